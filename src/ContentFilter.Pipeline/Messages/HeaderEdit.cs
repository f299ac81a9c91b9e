namespace ContentFilter.Pipeline.Messages;

/// <summary>One change to the header section, stated as intent; each front door translates it.</summary>
/// <remarks>
/// The proxy writes added fields above the untouched header bytes and edits named fields in place; the milter emits
/// <c>SMFIR_INSHEADER</c> / <c>SMFIR_CHGHEADER</c>. <c>Occurrence</c> counts fields of that name as received,
/// 1-based, which is exactly milter's CHGHEADER index, so both doors mean the same field.
/// </remarks>
public abstract record HeaderEdit(string Name)
{
    /// <summary>Adds a field at the top of the header section (above all received fields), in edit order.</summary>
    /// <param name="Name">Field name.</param>
    /// <param name="Value">Value without the leading space; may contain folding as <c>CRLF</c> + white space.</param>
    public sealed record Add(string Name, string Value) : HeaderEdit(Name);

    /// <summary>Removes the <paramref name="Occurrence"/>-th field named <paramref name="Name"/>.</summary>
    public sealed record Remove(string Name, int Occurrence) : HeaderEdit(Name);

    /// <summary>Replaces the value of the <paramref name="Occurrence"/>-th field named <paramref name="Name"/>.</summary>
    public sealed record Change(string Name, int Occurrence, string Value) : HeaderEdit(Name);
}
