using ContentFilter.Protocols.Mime;

namespace ContentFilter.Pipeline.Messages;

/// <summary>The parsed header section of a spooled message, raw bytes kept per field.</summary>
public sealed class MessageHeaders
{
    /// <summary>Creates the view.</summary>
    public MessageHeaders(IReadOnlyList<HeaderField> fields, int sectionLength, bool truncated)
    {
        Fields = fields;
        SectionLength = sectionLength;
        Truncated = truncated;
    }

    /// <summary>All fields in order, as received.</summary>
    public IReadOnlyList<HeaderField> Fields { get; }

    /// <summary>Bytes of the fields parsed (without the empty line that ends the section).</summary>
    public int SectionLength { get; }

    /// <summary>True when the header section was longer than the parse cap; fields past it are not listed.</summary>
    public bool Truncated { get; }

    /// <summary>The unfolded value of the first field named <paramref name="name"/>, or <c>null</c>.</summary>
    public string? Get(string name)
    {
        foreach (HeaderField f in Fields)
        {
            if (f.Is(name))
            {
                return f.Value;
            }
        }
        return null;
    }

    /// <summary>Every field named <paramref name="name"/>, in order.</summary>
    public IEnumerable<HeaderField> GetAll(string name) => Fields.Where(f => f.Is(name));

    /// <summary>How many fields are named <paramref name="name"/>.</summary>
    public int Count(string name) => Fields.Count(f => f.Is(name));
}
