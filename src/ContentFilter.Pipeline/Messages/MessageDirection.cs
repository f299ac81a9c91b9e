namespace ContentFilter.Pipeline.Messages;

/// <summary>Where a message comes from, as amavis's policy banks see it.</summary>
/// <remarks>
/// The listener decides: 10024 is <see cref="Inbound"/>, 10026 is <see cref="Originating"/> (amavis's
/// <c>$interface_policy{'10026'} = 'ORIGINATING'</c>). In milter mode, SMTP AUTH or the daemon name
/// <c>ORIGINATING</c> makes a message originating. Only originating mail is DKIM-signed.
/// </remarks>
public enum MessageDirection
{
    /// <summary>Mail from the outside world to our users.</summary>
    Inbound,

    /// <summary>Mail our users submit (submission, SMTP AUTH, mynetworks).</summary>
    Originating,
}
