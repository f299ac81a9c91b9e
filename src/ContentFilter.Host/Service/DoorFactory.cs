using ContentFilter.Frontends.SmtpProxy;
using ContentFilter.Frontends.Transport;
using ContentFilter.Host.Configuration;
using ContentFilter.Pipeline.Audit;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Delivery;
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
                    sp.GetRequiredService<ILogger<SmtpProxySession>>());
                return (session, session.RefuseAsync);
            default:
                throw new NotSupportedException($"listener '{listener.Name}': protocol {listener.Protocol} is not available in this build");
        }
    }

    /// <summary>The proxy's options from the service settings.</summary>
    public static SmtpProxyOptions ProxyOptions(ContentFilterSettings s) => new()
    {
        HostName = string.IsNullOrEmpty(s.HostName) ? System.Net.Dns.GetHostName() : s.HostName,
        MaxMessageSize = s.Limits.MaxMessageSize,
        MaxRecipients = s.Limits.MaxRecipients,
        MaxHeaderBytes = s.Limits.MaxHeaderBytes,
        CommandTimeout = TimeSpan.FromSeconds(s.Limits.CommandTimeoutSeconds),
        DataTimeout = TimeSpan.FromSeconds(s.Limits.DataTimeoutSeconds),
        MessageTimeout = TimeSpan.FromSeconds(s.Limits.MessageTimeoutSeconds),
    };
}
