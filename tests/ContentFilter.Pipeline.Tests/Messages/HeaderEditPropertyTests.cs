using System.Text;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Protocols.Mime;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace ContentFilter.Pipeline.Tests.Messages;

/// <summary>The header editor keeps "bytes are sacred" (issue 8, fuzzing): body and untouched fields leave byte for byte.</summary>
public class HeaderEditPropertyTests
{
    private static readonly string[] Names = ["From", "To", "Subject", "Received", "X-A", "subject"];

    // One field: a name, a value, maybe folded lines; or a line that is not a field. Line ends CRLF or bare LF.
    private static readonly Gen<string> Field = Gen.OneOf(
        Gen.Zip(Gen.Elements(Names), Gen.Zip(Gen.Elements(" v", "", " a@example.org", "\tx", " \u00e9"), Gen.Elements("", "\r\n next", "\r\n\tnext", "\n more")))
            .Select(t => t.Item1 + ":" + t.Item2.Item1 + t.Item2.Item2),
        Gen.Elements("not a field", "Bad Name: x"));

    // Mostly well-formed, sometimes starting with white space (a continuation line before any field).
    private static readonly Gen<byte[]> Message =
        Gen.Zip(Gen.Zip(Gen.Elements("", "", "", " leading", "\tleading\r\n more"), Field.ListOf()), Gen.Zip(Gen.Elements("\r\n", "\n"), Gen.Elements("", "body\r\n", ".\r\n", " starts with a space\r\nFrom: in the body\r\n")))
            .Select(t =>
            {
                ((string lead, List<string> fields), (string eol, string body)) = t;
                return Encoding.UTF8.GetBytes((lead.Length > 0 ? lead + eol : "") + string.Concat(fields.Select(f => f + eol)) + eol + body);
            });

    private static HeaderField? Leading(MessageHeaders headers) =>
        headers.Fields.FirstOrDefault() is { Name.Length: 0 } f && f.Raw.Span[0] is (byte)' ' or (byte)'\t' ? f : null;

    private static readonly Gen<HeaderEdit> Edit = Gen.OneOf(
        Gen.Zip(Gen.Elements(Names), Gen.Choose(1, 3)).Select(t => (HeaderEdit)new HeaderEdit.Remove(t.Item1, t.Item2)),
        Gen.Zip(Gen.Zip(Gen.Elements(Names), Gen.Choose(1, 3)), Gen.Elements("new", "", "folded\r\n\tvalue")).Select(t => (HeaderEdit)new HeaderEdit.Change(t.Item1.Item1, t.Item1.Item2, t.Item2)),
        Gen.Zip(Gen.Elements("Authentication-Results", "X-Spam-Status"), Gen.Elements("mx; spf=pass", "No, score=1.0")).Select(t => (HeaderEdit)new HeaderEdit.Add(t.Item1, t.Item2)));

    internal static MessageSpool Spool(byte[] message)
    {
        var spool = new MessageSpool(new SpoolOptions { Directory = Path.GetTempPath(), InMemoryThreshold = 1 << 20 }, "property");
        int half = message.Length / 2;
        spool.WriteAsync(message.AsMemory(0, half), CancellationToken.None).AsTask().GetAwaiter().GetResult();
        spool.WriteAsync(message.AsMemory(half), CancellationToken.None).AsTask().GetAwaiter().GetResult();
        spool.CompleteAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        return spool;
    }

    internal static byte[] Sent(byte[] message, MessageHeaders headers, IReadOnlyList<HeaderEdit> edits)
    {
        byte[] prefix = OutgoingMessage.BuildPrefix(headers, edits, out long copyFrom);
        return [.. prefix, .. message.AsSpan((int)copyFrom)];
    }

    /// <summary>
    /// Any edits: everything after the parsed header section leaves byte for byte, and the sent header section
    /// parses into the added fields, then every received field either kept with its exact bytes, changed, or gone.
    /// </summary>
    [Property(MaxTest = 300)]
    public Property BuildPrefix_AnyEdits_BodyAndUntouchedFieldsByteIdentical() =>
        Prop.ForAll(Message.ToArbitrary(), Edit.ListOf().ToArbitrary(), (message, editList) =>
        {
            using MessageSpool spool = Spool(message);
            MessageHeaders headers = spool.ReadHeaders(64 * 1024);
            var edits = new HeaderEdits();
            edits.AddRange(editList);
            byte[] sent = Sent(message, headers, edits);

            // A leading continuation line goes above the added fields, or it would fold into the last one.
            HeaderField? leading = edits.Any(e => e is HeaderEdit.Add) ? Leading(headers) : null;
            var expected = leading is null ? new List<byte[]>() : [leading.Raw.ToArray()];
            expected.AddRange(edits.OfType<HeaderEdit.Add>().Select(a => OutgoingMessage.FormatField(a.Name, a.Value)));
            var counts = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            foreach (HeaderField f in headers.Fields.Where(f => !ReferenceEquals(f, leading)))
            {
                int n = f.Name.Length == 0 ? 0 : counts[f.Name] = counts.GetValueOrDefault(f.Name) + 1;
                HeaderEdit? last = edits.LastOrDefault(e => (e is HeaderEdit.Remove r && r.Occurrence == n && f.Is(r.Name)) || (e is HeaderEdit.Change c && c.Occurrence == n && f.Is(c.Name)));
                if (last is HeaderEdit.Change c)
                {
                    expected.Add(OutgoingMessage.FormatField(f.Name, c.Value));
                }
                else if (last is null)
                {
                    expected.Add(f.Raw.ToArray());
                }
            }
            List<HeaderField> parsed = HeaderSectionReader.Read(sent, 0, out _, out _);
            return sent.AsSpan().EndsWith(message.AsSpan(headers.SectionLength))
                && parsed.Count == expected.Count
                && parsed.Zip(expected).All(p => p.First.Raw.Span.SequenceEqual(p.Second));
        });

    /// <summary>Additions only: the received message follows the added fields verbatim, from its first byte.</summary>
    [Property(MaxTest = 200)]
    public Property BuildPrefix_AdditionsOnly_WholeMessageVerbatim() =>
        Prop.ForAll(Message.ToArbitrary(), message =>
        {
            using MessageSpool spool = Spool(message);
            MessageHeaders headers = spool.ReadHeaders(64 * 1024);
            var edits = new HeaderEdits();
            edits.Add("Authentication-Results", "mx; spf=pass");
            edits.AddOnTop("DKIM-Signature", "v=1;\r\n\tb=x");
            byte[] prefix = OutgoingMessage.BuildPrefix(headers, edits, out long copyFrom);
            string leading = Leading(headers) is HeaderField f ? Encoding.UTF8.GetString(f.Raw.Span) : string.Empty;
            return copyFrom == leading.Length && Encoding.UTF8.GetString(prefix) == leading + "DKIM-Signature: v=1;\r\n\tb=x\r\nAuthentication-Results: mx; spf=pass\r\n";
        });

    /// <summary>A message starting with white space cannot extend our Authentication-Results with the sender's text.</summary>
    /// <remarks>Found by scripts/fuzz (header-edit): the leading line folded into the last added field.</remarks>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BuildPrefix_MessageStartingWithWhiteSpace_AddedFieldsStayTheirOwn(bool alsoRemove)
    {
        byte[] message = Encoding.ASCII.GetBytes(" dkim=pass header.d=bank.example\r\nFrom: a@example.org\r\nX-A: 1\r\n\r\nbody\r\n");
        using MessageSpool spool = Spool(message);
        MessageHeaders headers = spool.ReadHeaders(64 * 1024);
        var edits = new HeaderEdits();
        edits.Add("Authentication-Results", "mx.example; spf=fail");
        if (alsoRemove)
        {
            edits.Remove("X-A", 1);
        }
        string sent = Encoding.ASCII.GetString(Sent(message, headers, edits));
        Assert.Equal(
            " dkim=pass header.d=bank.example\r\nAuthentication-Results: mx.example; spf=fail\r\nFrom: a@example.org\r\n" + (alsoRemove ? "" : "X-A: 1\r\n") + "\r\nbody\r\n",
            sent);
        List<HeaderField> parsed = HeaderSectionReader.Read(Encoding.ASCII.GetBytes(sent), 0, out _, out _);
        Assert.Equal("mx.example; spf=fail", parsed.Single(f => f.Is("Authentication-Results")).Value);
    }

    /// <summary>The header cap cuts the section inside a folded field: that field is not editable, so no edit can split it.</summary>
    /// <remarks>Found by scripts/fuzz (header-edit): removing the field the cap cut left its continuation lines behind, glued to the field before.</remarks>
    [Fact]
    public void ReadHeaders_CapInsideFoldedField_FieldLeftToTheVerbatimCopy()
    {
        byte[] message = Encoding.ASCII.GetBytes("From: a@example.org\r\nSubject: one\r\n two\r\n three\r\n\r\nbody\r\n");
        using MessageSpool spool = Spool(message);
        MessageHeaders headers = spool.ReadHeaders(37); // just past "Subject: one\r\n", inside " two"
        var edits = new HeaderEdits();
        edits.Remove("Subject", 1);
        byte[] sent = Sent(message, headers, edits);
        Assert.True(headers.Truncated);
        Assert.Equal("From: a@example.org\r\nSubject: one\r\n two\r\n three\r\n\r\nbody\r\n", Encoding.ASCII.GetString(sent));
    }
}
