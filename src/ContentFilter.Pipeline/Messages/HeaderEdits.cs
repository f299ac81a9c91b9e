using System.Collections;
using ContentFilter.Protocols.Mime;

namespace ContentFilter.Pipeline.Messages;

/// <summary>The ordered header changes decided for one message.</summary>
public sealed class HeaderEdits : IReadOnlyList<HeaderEdit>
{
    private readonly List<HeaderEdit> _edits = new();

    /// <summary>Adds a field at the top. Fields added first end up highest.</summary>
    public void Add(string name, string value) => _edits.Add(new HeaderEdit.Add(name, value));

    /// <summary>Removes the <paramref name="occurrence"/>-th field named <paramref name="name"/> (1-based).</summary>
    public void Remove(string name, int occurrence) => _edits.Add(new HeaderEdit.Remove(name, occurrence));

    /// <summary>Replaces the value of the <paramref name="occurrence"/>-th field named <paramref name="name"/>.</summary>
    public void Change(string name, int occurrence, string value) => _edits.Add(new HeaderEdit.Change(name, occurrence, value));

    /// <summary>Removes every received field named <paramref name="name"/> that matches <paramref name="predicate"/>.</summary>
    public void RemoveWhere(MessageHeaders headers, string name, Func<HeaderField, bool>? predicate = null)
    {
        int occurrence = 0;
        foreach (HeaderField f in headers.Fields)
        {
            if (!f.Is(name))
            {
                continue;
            }
            occurrence++;
            if (predicate is null || predicate(f))
            {
                Remove(f.Name, occurrence);
            }
        }
    }

    /// <summary>Adds all edits of <paramref name="other"/> after these.</summary>
    public void AddRange(IEnumerable<HeaderEdit> other) => _edits.AddRange(other);

    /// <summary>Inserts added fields above those already added (e.g. a DKIM-Signature above everything).</summary>
    public void AddOnTop(string name, string value) => _edits.Insert(0, new HeaderEdit.Add(name, value));

    /// <inheritdoc />
    public int Count => _edits.Count;

    /// <inheritdoc />
    public HeaderEdit this[int index] => _edits[index];

    /// <inheritdoc />
    public IEnumerator<HeaderEdit> GetEnumerator() => _edits.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>
    /// The header section as it will leave: added fields first, then the received ones with removals and changes
    /// applied. Signers (DKIM, ARC) hash this view so that their signature covers what is really sent.
    /// </summary>
    public IReadOnlyList<(string Name, string Value)> Apply(MessageHeaders headers)
    {
        var result = new List<(string, string)>();
        foreach (HeaderEdit e in _edits)
        {
            if (e is HeaderEdit.Add a)
            {
                result.Add((a.Name, a.Value));
            }
        }
        var counts = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (HeaderField f in headers.Fields)
        {
            if (f.Name.Length == 0)
            {
                continue;
            }
            counts[f.Name] = counts.GetValueOrDefault(f.Name) + 1;
            int n = counts[f.Name];
            HeaderEdit? edit = _edits.LastOrDefault(e => e switch
            {
                HeaderEdit.Remove r => r.Occurrence == n && f.Is(r.Name),
                HeaderEdit.Change c => c.Occurrence == n && f.Is(c.Name),
                _ => false,
            });
            switch (edit)
            {
                case HeaderEdit.Remove:
                    break;
                case HeaderEdit.Change c:
                    result.Add((f.Name, c.Value));
                    break;
                default:
                    result.Add((f.Name, f.RawValue));
                    break;
            }
        }
        return result;
    }
}
