using System.Text.RegularExpressions;
using ContentFilter.Testing.Daemons;
using ContentFilter.Testing.Smtp;

namespace ContentFilter.IntegrationTests.Fixtures;

/// <summary>
/// The deployment FILTER_README describes, for real: a private Postfix whose smtpd hands mail to
/// <c>content_filter = cfilter:[127.0.0.1]:&lt;inbound&gt;</c>, the contentfilter process, and Postfix's reinjection
/// smtpd as the filter's next hop, delivering into a maildir.
/// </summary>
public sealed partial class FilterChain : IAsyncDisposable
{
    private FilterChain(PostfixInstance postfix, ContentFilterProcess filter)
    {
        Postfix = postfix;
        Filter = filter;
    }

    /// <summary>The Postfix in front of and behind the filter.</summary>
    public PostfixInstance Postfix { get; }

    /// <summary>The service.</summary>
    public ContentFilterProcess Filter { get; }

    /// <summary>Starts Postfix and (unless <paramref name="startFilter"/> is false) the filter, each configured by the callbacks.</summary>
    public static async Task<FilterChain> StartAsync(Action<PostfixOptions>? configurePostfix = null, Action<ContentFilterProcess>? configureFilter = null, bool startFilter = true)
    {
        PostfixInstance.SkipUnlessAvailable();
        var filter = new ContentFilterProcess(nextHopPort: 0, ServiceSections.IsKnown);
        filter.SkipUnlessAvailable();
        PostfixInstance? postfix = null;
        try
        {
            var options = new PostfixOptions { ContentFilterPort = filter.InboundPort, ReinjectionListener = true };
            configurePostfix?.Invoke(options);
            postfix = await PostfixInstance.StartAsync(options);
            filter.SetNextHopPort(postfix.ReinjectPort);
            configureFilter?.Invoke(filter);
            if (startFilter)
            {
                await filter.StartAsync();
            }
            return new FilterChain(postfix, filter);
        }
        catch
        {
            await filter.DisposeAsync();
            if (postfix is not null)
            {
                await postfix.DisposeAsync();
            }
            throw;
        }
    }

    /// <summary>Sends one message to Postfix's internet-facing smtpd with the raw client; returns Postfix's queue id.</summary>
    public async Task<string> SubmitAsync(SampleMessage message) =>
        await SubmitAsync(message.Sender, message.Recipient, message.Bytes(), message.MailParameters);

    /// <summary>Sends bytes to Postfix's smtpd; asserts it queued them and returns the queue id.</summary>
    public async Task<string> SubmitAsync(string sender, string recipient, byte[] message, string? mailParameters = null)
    {
        using var stream = new MemoryStream(message, writable: false);
        return await SubmitAsync(sender, recipient, stream, mailParameters);
    }

    /// <summary>Streams a message to Postfix's smtpd; asserts it queued it and returns the queue id.</summary>
    public Task<string> SubmitAsync(string sender, string recipient, Stream message, string? mailParameters = null) =>
        SubmitAsync(sender, [recipient], message, mailParameters);

    /// <summary>Streams a message for several recipients to Postfix's smtpd; asserts it queued it and returns the queue id.</summary>
    public async Task<string> SubmitAsync(string sender, IReadOnlyList<string> recipients, Stream message, string? mailParameters = null)
    {
        var (client, greeting) = await RawSmtpClient.ConnectAsync(Postfix.SmtpPort);
        await using (client)
        {
            Assert.Equal(220, greeting.Code);
            await client.EhloAsync();
            SmtpReply reply = await client.SendMailAsync(sender, recipients, message, mailParameters);
            Assert.True(reply.Code == 250, $"Postfix did not queue the message: {reply}\n{Postfix.Diagnostics()}");
            await client.QuitAsync();
            return QueueId(reply);
        }
    }

    /// <summary>The queue id in <c>250 2.0.0 Ok: queued as ABC123</c>.</summary>
    public static string QueueId(SmtpReply reply)
    {
        Match m = QueuedAs().Match(reply.Text);
        Assert.True(m.Success, $"no queue id in '{reply}'");
        return m.Groups[1].Value;
    }

    /// <summary>Waits for Postfix's cfilter transport to log a deferral of <paramref name="queueId"/> and returns the line.</summary>
    public Task<string> WaitForFilterDeferralAsync(string queueId, TimeSpan timeout) =>
        Postfix.WaitForLogAsync(l => l.Contains("/cfilter/", StringComparison.Ordinal) && l.Contains($" {queueId}: to=", StringComparison.Ordinal) && l.Contains("status=deferred", StringComparison.Ordinal), timeout, $"Postfix to defer {queueId} at the content filter");

    /// <summary>Postfix's and the filter's recent output, for assertion messages.</summary>
    public string Diagnostics() => Postfix.Diagnostics() + "\n" + Filter.Diagnostics();

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await Filter.DisposeAsync();
        await Postfix.DisposeAsync();
    }

    [GeneratedRegex(@"queued as ([0-9A-Za-z]+)")]
    private static partial Regex QueuedAs();
}
