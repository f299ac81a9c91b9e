namespace ContentFilter.Checks.Spf;

/// <summary>The seven results of check_host() (RFC 7208 §2.6), named as Authentication-Results spells them.</summary>
public enum SpfResult
{
    /// <summary><c>none</c>: no valid domain or no SPF record (§2.6.1).</summary>
    None,

    /// <summary><c>neutral</c>: the domain makes no assertion (§2.6.2, <c>?</c> or no match).</summary>
    Neutral,

    /// <summary><c>pass</c>: the client is authorised (§2.6.3).</summary>
    Pass,

    /// <summary><c>fail</c>: the client is explicitly not authorised (§2.6.4).</summary>
    Fail,

    /// <summary><c>softfail</c>: probably not authorised (§2.6.5).</summary>
    SoftFail,

    /// <summary><c>temperror</c>: a transient DNS error (§2.6.6).</summary>
    TempError,

    /// <summary><c>permerror</c>: the published records could not be interpreted (§2.6.7).</summary>
    PermError,
}

/// <summary>Wire spellings of <see cref="SpfResult"/>.</summary>
public static class SpfResultExtensions
{
    /// <summary>The lowercase keyword used in A-R and Received-SPF (<c>softfail</c>, <c>permerror</c>).</summary>
    public static string ToKeyword(this SpfResult result) => result switch
    {
        SpfResult.None => "none",
        SpfResult.Neutral => "neutral",
        SpfResult.Pass => "pass",
        SpfResult.Fail => "fail",
        SpfResult.SoftFail => "softfail",
        SpfResult.TempError => "temperror",
        _ => "permerror",
    };
}
