namespace ContentFilter.Pipeline.Messages;

/// <summary>The SMTP envelope of one message: reverse path, recipients, their parameters, and the client.</summary>
public sealed class Envelope
{
    /// <summary>Reverse path without angle brackets; the empty string is the null sender <c>&lt;&gt;</c>.</summary>
    public string MailFrom { get; set; } = string.Empty;

    /// <summary>MAIL FROM ESMTP parameters as received (<c>SIZE=</c>, <c>BODY=</c>, <c>RET=</c>, <c>ENVID=</c>, <c>SMTPUTF8</c>).</summary>
    public List<string> MailParameters { get; } = new();

    /// <summary>Accepted recipients, in order.</summary>
    public List<EnvelopeRecipient> Recipients { get; } = new();

    /// <summary>The original SMTP client.</summary>
    public ClientInfo Client { get; set; } = ClientInfo.Unknown;

    /// <summary>SASL login name when the client authenticated (milter <c>{auth_authen}</c>, policy <c>sasl_username</c>).</summary>
    public string? AuthenticatedUser { get; set; }

    /// <summary>Postfix's queue id for the message as it reached us (XFORWARD IDENT or milter macro <c>i</c>).</summary>
    public string? QueueId => Client.Ident;

    /// <summary>True for the null reverse path, to which no DSN is ever sent (RFC 5321 §4.5.5).</summary>
    public bool IsNullSender => MailFrom.Length == 0;

    /// <summary>The domain of the reverse path, lower-cased, or empty.</summary>
    public string MailFromDomain => DomainOf(MailFrom);

    /// <summary>The value of a MAIL FROM parameter such as <c>BODY</c> or <c>SIZE</c>, or <c>null</c>.</summary>
    public string? GetMailParameter(string keyword)
    {
        foreach (string p in MailParameters)
        {
            int eq = p.IndexOf('=');
            string key = eq < 0 ? p : p[..eq];
            if (key.Equals(keyword, StringComparison.OrdinalIgnoreCase))
            {
                return eq < 0 ? string.Empty : p[(eq + 1)..];
            }
        }
        return null;
    }

    /// <summary>Copies the envelope (for release from quarantine or a DSN).</summary>
    public Envelope Clone()
    {
        var copy = new Envelope { MailFrom = MailFrom, Client = Client, AuthenticatedUser = AuthenticatedUser };
        copy.MailParameters.AddRange(MailParameters);
        copy.Recipients.AddRange(Recipients);
        return copy;
    }

    /// <summary>The lower-cased domain after the last <c>@</c>, or empty.</summary>
    public static string DomainOf(string address)
    {
        int at = address.LastIndexOf('@');
        return at < 0 ? string.Empty : address[(at + 1)..].ToLowerInvariant();
    }
}
