namespace ContentFilter.Protocols.Policy;

/// <summary>One Postfix policy delegation request: the <c>name=value</c> attributes up to the empty line.</summary>
/// <remarks>
/// SMTPD_POLICY_README: names may repeat (the last one wins here, like Postfix's own attribute scanner), unknown
/// names are kept but ignored, and an attribute Postfix has no value for may be absent, empty or <c>0</c>.
/// </remarks>
public sealed class PolicyRequest
{
    private readonly Dictionary<string, string> _attributes;

    /// <summary>Creates a request from decoded attributes.</summary>
    public PolicyRequest(Dictionary<string, string> attributes)
    {
        _attributes = attributes;
    }

    /// <summary>All attributes by name (case-sensitive, as Postfix sends them in lower case).</summary>
    public IReadOnlyDictionary<string, string> Attributes => _attributes;

    /// <summary><c>request</c>: <c>smtpd_access_policy</c> for smtpd's queries.</summary>
    public string? Request => Get("request");

    /// <summary><c>protocol_state</c>: <c>CONNECT</c>, <c>EHLO</c>, <c>HELO</c>, <c>MAIL</c>, <c>RCPT</c>, <c>DATA</c>, <c>END-OF-MESSAGE</c>, <c>VRFY</c>, <c>ETRN</c>.</summary>
    public string? ProtocolState => Get("protocol_state");

    /// <summary><c>client_address</c>: the SMTP client's IP address.</summary>
    public string? ClientAddress => Get("client_address");

    /// <summary><c>client_name</c>: the verified client host name, or <c>unknown</c>.</summary>
    public string? ClientName => Get("client_name");

    /// <summary><c>helo_name</c>.</summary>
    public string? HeloName => Get("helo_name");

    /// <summary><c>sender</c>: empty for the null sender <c>&lt;&gt;</c>.</summary>
    public string? Sender => Get("sender");

    /// <summary><c>recipient</c>: at RCPT time the address being checked.</summary>
    public string? Recipient => Get("recipient");

    /// <summary><c>instance</c>: the same for every request about one message.</summary>
    public string? Instance => Get("instance");

    /// <summary><c>queue_id</c>.</summary>
    public string? QueueId => Get("queue_id");

    /// <summary><c>sasl_username</c>.</summary>
    public string? SaslUsername => Get("sasl_username");

    /// <summary><c>etrn_domain</c>: Postfix always sends it (empty outside ETRN); postgrey keys its <c>4.2.0</c> prefix on it.</summary>
    public string? EtrnDomain => Get("etrn_domain");

    /// <summary>The value of <paramref name="name"/>, or null when absent.</summary>
    public string? Get(string name) => _attributes.TryGetValue(name, out string? value) ? value : null;
}
