using ContentFilter.Frontends.Milter;
using ContentFilter.Frontends.Policy;
using ContentFilter.Frontends.SmtpProxy;
using ContentFilter.Frontends.Transport;
using ContentFilter.Host.Configuration;
using ContentFilter.Pipeline.Audit;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Delivery;
using ContentFilter.Pipeline.Greylisting;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Quarantine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Host.Service;

/// <summary>Builds the door (protocol handler) for a listener. Every door gets the same pipeline.</summary>
public static class DoorFactory
{
    /// <summary>The handler and its refusal callback for <paramref name="listener"/>.</summary>
    public static (IConnectionHandler Handler, ConnectionRefuser? Refuser) Create(ListenerOptions listener, IServiceProvider sp)
    {
        LoadedConfig config = sp.GetRequiredService<LoadedConfig>();
        switch (listener.Protocol)
        {
            case ListenerProtocol.Smtp:
            case ListenerProtocol.Lmtp:
                var session = new SmtpProxySession(
                    ProxyOptions(config.Settings),
                    listener,
                    sp.GetRequiredService<CheckPipeline>(),
                    sp.GetRequiredService<INextHop>(),
                    sp.GetRequiredService<IDsnSender>(),
                    sp.GetRequiredService<IQuarantineStore>(),
                    sp.GetRequiredService<IAuditSink>(),
                    sp.GetRequiredService<SpoolOptions>(),
                    sp.GetRequiredService<TimeProvider>(),
                    sp.GetRequiredService<ILogger<SmtpProxySession>>(),
                    sp.GetRequiredService<ContentFilter.Pipeline.Policy.LocalDomains>());
                return (session, session.RefuseAsync);
            case ListenerProtocol.Milter:
                MilterOptions milter = config.Get<MilterOptions>("Milter");
                ListenerPolicy inbound = listener.ToListenerPolicy() with { Direction = MessageDirection.Inbound };
                return (new MilterSession(
                    milter,
                    sp.GetRequiredService<CheckPipeline>(),
                    sp.GetRequiredService<SpoolOptions>(),
                    sp.GetRequiredService<IAuditSink>(),
                    sp.GetRequiredService<TimeProvider>(),
                    sp.GetRequiredService<ILogger<MilterSession>>(),
                    inbound,
                    inbound with { Direction = MessageDirection.Originating },
                    AsksGreylist(listener, milter) ? sp.GetRequiredService<IGreylist>() : null,
                    sp.GetRequiredService<IQuarantineStore>()), null);
            case ListenerProtocol.Policy:
                return (new PolicySession(
                    config.Get<PolicySessionOptions>("Policy"),
                    sp.GetRequiredService<IGreylist>(),
                    sp.GetRequiredService<TimeProvider>(),
                    sp.GetRequiredService<ILogger<PolicySession>>()), null);
            default:
                throw new NotSupportedException($"listener '{listener.Name}': protocol {listener.Protocol} is not available in this build");
        }
    }

    /// <summary>True when the door <see cref="Create"/> makes for <paramref name="listener"/> asks the greylist: a policy door, or a milter with <c>Milter:GreylistAtRcpt</c>.</summary>
    public static bool AsksGreylist(ListenerOptions listener, MilterOptions milter) =>
        listener.Protocol == ListenerProtocol.Policy || (listener.Protocol == ListenerProtocol.Milter && milter.GreylistAtRcpt);

    /// <summary>The proxy's options from the service settings.</summary>
    public static SmtpProxyOptions ProxyOptions(ContentFilterSettings s) => new()
    {
        HostName = string.IsNullOrEmpty(s.HostName) ? System.Net.Dns.GetHostName() : s.HostName,
        MaxMessageSize = s.Limits.MaxMessageSize,
        MaxRecipients = s.Limits.MaxRecipients,
        MaxHeaderBytes = s.Limits.MaxHeaderBytes,
        CommandTimeout = TimeSpan.FromSeconds(s.Limits.CommandTimeoutSeconds),
        DataTimeout = TimeSpan.FromSeconds(s.Limits.DataTimeoutSeconds),
        DataDeadline = TimeSpan.FromSeconds(s.Limits.DataDeadlineSeconds),
        MessageTimeout = TimeSpan.FromSeconds(s.Limits.MessageTimeoutSeconds),
    };
}
