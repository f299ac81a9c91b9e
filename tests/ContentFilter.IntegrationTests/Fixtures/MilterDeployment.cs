using System.Globalization;
using System.Text.Json.Nodes;
using ContentFilter.Testing;
using ContentFilter.Testing.Daemons;

namespace ContentFilter.IntegrationTests.Fixtures;

/// <summary>
/// The milter deployment for real: a private Postfix whose <c>smtpd_milters</c> points at the contentfilter
/// process's milter listener on loopback TCP, with <c>milter_default_action = tempfail</c> (a milter that is not
/// there must not let mail through unscanned). Postfix delivers to its maildir itself; there is no reinjection.
/// </summary>
internal sealed class MilterDeployment : IAsyncDisposable
{
    private MilterDeployment(PostfixInstance postfix, ContentFilterProcess filter)
    {
        Postfix = postfix;
        Filter = filter;
    }

    /// <summary>The Postfix that asks the milter.</summary>
    public PostfixInstance Postfix { get; }

    /// <summary>The service, its milter listener configured (Inbound); not started, so tests configure it first.</summary>
    public ContentFilterProcess Filter { get; }

    /// <summary>Starts Postfix (after <paramref name="configurePostfix"/>) and prepares the filter's configuration.</summary>
    public static async Task<MilterDeployment> StartPostfixAsync(Action<PostfixOptions>? configurePostfix = null)
    {
        PostfixInstance.SkipUnlessAvailable();
        string milter = "127.0.0.1:" + TestPaths.FreePorts(1)[0].ToString(CultureInfo.InvariantCulture);
        var options = new PostfixOptions();
        options.MainCf.Add($"smtpd_milters = inet:{milter}");
        options.MainCf.Add("milter_default_action = tempfail");
        configurePostfix?.Invoke(options);
        PostfixInstance postfix = await PostfixInstance.StartAsync(options);
        var filter = new ContentFilterProcess(postfix.SmtpPort, ServiceSections.IsKnown);
        filter.Set("Listeners:milter", new JsonObject { ["Enabled"] = true, ["Endpoint"] = milter, ["Protocol"] = "Milter", ["Direction"] = "Inbound" });
        return new MilterDeployment(postfix, filter);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await Filter.DisposeAsync();
        await Postfix.DisposeAsync();
    }
}
