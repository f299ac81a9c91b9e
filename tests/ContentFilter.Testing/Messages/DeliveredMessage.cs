using System.Text;

namespace ContentFilter.Testing.Messages;

/// <summary>The outcome of comparing a delivered message with the one sent.</summary>
/// <param name="Intact">True when the delivered message is the sent one with only allowed header fields added on top.</param>
/// <param name="AddedFields">The header fields found above the original header (names and folded values, as delivered).</param>
/// <param name="Problem">Why it is not intact (null when it is).</param>
public sealed record DeliveryComparison(bool Intact, IReadOnlyList<string> AddedFields, string? Problem);

/// <summary>Compares what a maildir holds with what a test sent.</summary>
/// <remarks>
/// Postfix stores lines without their endings and virtual(8) writes maildir files with LF, so the sent message is
/// compared after CRLF -> LF (a bijection for messages whose lines all end in CRLF, as testdata's do). Every other
/// byte must be identical, and everything above the original header must be whole header fields whose names were
/// expected (Postfix's Return-Path, X-Original-To, Delivered-To, Received; the filter's own when checks are on).
/// </remarks>
public static class DeliveredMessage
{
    /// <summary>Header fields Postfix itself adds on the way through smtpd and virtual(8).</summary>
    public static IReadOnlyList<string> PostfixTraceFields { get; } = ["Return-Path", "X-Original-To", "Delivered-To", "Received"];

    /// <summary>CRLF -> LF, as Postfix's local delivery writes it.</summary>
    public static byte[] ToLf(ReadOnlySpan<byte> crlf)
    {
        byte[] output = new byte[crlf.Length];
        int o = 0;
        while (true)
        {
            int cr = crlf.IndexOf("\r\n"u8);
            if (cr < 0)
            {
                crlf.CopyTo(output.AsSpan(o));
                o += crlf.Length;
                return output[..o];
            }
            crlf[..cr].CopyTo(output.AsSpan(o));
            o += cr;
            crlf = crlf[(cr + 1)..];
        }
    }

    /// <summary>Checks that <paramref name="delivered"/> (LF) is <paramref name="sent"/> (CRLF) with only <paramref name="allowedAddedFields"/> added on top.</summary>
    public static DeliveryComparison Compare(ReadOnlySpan<byte> sent, ReadOnlySpan<byte> delivered, IEnumerable<string> allowedAddedFields)
    {
        byte[] expected = ToLf(sent);
        if (!delivered.EndsWith(expected))
        {
            int common = 0;
            while (common < expected.Length && common < delivered.Length && expected[^(common + 1)] == delivered[^(common + 1)])
            {
                common++;
            }
            return new DeliveryComparison(false, [], $"the delivered message does not end with the sent one: they differ {common} byte(s) before the end of the sent message (of {expected.Length}); sent tail near there: '{Show(expected, expected.Length - common - 40, 80)}', delivered: '{Show(delivered.ToArray(), delivered.Length - common - 40, 80)}'");
        }
        string prefix = Encoding.UTF8.GetString(delivered[..^expected.Length]);
        var allowed = new HashSet<string>(allowedAddedFields, StringComparer.OrdinalIgnoreCase);
        var fields = new List<string>();
        foreach (string line in prefix.Split('\n'))
        {
            if (line.Length == 0)
            {
                continue;
            }
            if (line[0] is ' ' or '\t')
            {
                if (fields.Count == 0)
                {
                    return new DeliveryComparison(false, fields, $"continuation line without a field above the original header: '{line}'");
                }
                fields[^1] += "\n" + line;
                continue;
            }
            fields.Add(line);
        }
        if (prefix.Length > 0 && !prefix.EndsWith('\n'))
        {
            return new DeliveryComparison(false, fields, "text above the original header does not end with a line ending: the original's first line was changed");
        }
        foreach (string field in fields)
        {
            int colon = field.IndexOf(':');
            string name = colon > 0 ? field[..colon] : field;
            if (!allowed.Contains(name))
            {
                return new DeliveryComparison(false, fields, $"unexpected field added above the original header: '{field}'");
            }
        }
        return new DeliveryComparison(true, fields, null);
    }

    private static string Show(byte[] bytes, int start, int length)
    {
        start = Math.Max(0, start);
        length = Math.Min(length, bytes.Length - start);
        return Encoding.UTF8.GetString(bytes, start, Math.Max(0, length)).Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
    }
}
