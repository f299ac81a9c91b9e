using System.Buffers;
using System.Globalization;
using System.Text;
using ContentFilter.Protocols.Spamd;

namespace ContentFilter.Fuzz.Targets;

/// <summary>spamd responses: <see cref="SpamdResponseReader"/>.</summary>
/// <remarks>
/// Invariants: the same response whether the bytes come in one segment or several; a prefix of the input either
/// needs more, fails the way the whole input fails, or is the same response (more bytes never change a response
/// already complete); scores are finite; a response written back reads to the same response.
/// </remarks>
internal static class SpamdTarget
{
    private static readonly SpamdLimits Small = new() { MaxLineLength = 40, MaxHeaders = 2, MaxBodyLength = 64 };

    public static void Run(byte[] data)
    {
        foreach (SpamdLimits limits in new[] { SpamdLimits.Default, Small })
        {
            foreach (bool final in new[] { true, false })
            {
                (bool ok, SpamdResponse? response, SpamdError error, long consumed) = Read(new ReadOnlySequence<byte>(data), final, limits);
                foreach (int[] plan in Chunking.Plans(data))
                {
                    (bool ok2, SpamdResponse? r2, SpamdError e2, long c2) = Read(Chunking.Sequence(Chunking.Split(data, plan)), final, limits);
                    FuzzInvariantException.Check(ok2 == ok && e2 == error && c2 == consumed && Same(r2, response), $"{plan.Length} segments read differently");
                }
                if (ok)
                {
                    Check(response!);
                    RoundTrip(response!);
                }
                if (!final)
                {
                    CheckPrefixes(data, limits, ok, response, error);
                }
            }
        }
    }

    private static void CheckPrefixes(byte[] data, SpamdLimits limits, bool ok, SpamdResponse? response, SpamdError error)
    {
        foreach (int cut in new[] { data.Length / 4, data.Length / 2, data.Length - 1 })
        {
            if (cut <= 0 || cut >= data.Length)
            {
                continue;
            }
            (bool okPrefix, SpamdResponse? r, SpamdError e, _) = Read(new ReadOnlySequence<byte>(data, 0, cut), false, limits);
            if (okPrefix)
            {
                FuzzInvariantException.Check(ok && Same(r, response), "a response complete in a prefix changed when more bytes came");
            }
            else if (e != SpamdError.None)
            {
                FuzzInvariantException.Check(!ok && error != SpamdError.None, $"a prefix fails ({e}) but the whole input does not");
            }
        }
    }

    private static void Check(SpamdResponse r)
    {
        FuzzInvariantException.Check(r.Code is >= 0 and <= 999, $"code {r.Code}");
        FuzzInvariantException.Check((r.Score is null || double.IsFinite(r.Score.Value)) && (r.Threshold is null || double.IsFinite(r.Threshold.Value)), "a score is not finite");
        FuzzInvariantException.Check((r.IsSpam is null) == (r.Score is null) && (r.Score is null) == (r.Threshold is null), "Spam header parsed in part");
        _ = r.Symbols;
    }

    private static void RoundTrip(SpamdResponse r)
    {
        if (r.Message.Contains('\n') || r.Message.Contains('\r'))
        {
            return; // cannot be written as one status line
        }
        if (r.Score is double s && r.Threshold is double t && (Format(s).Contains('E') || Format(t).Contains('E')))
        {
            return; // spamd never writes exponents, and the reader does not take them
        }
        var sb = new StringBuilder();
        sb.Append("SPAMD/").Append(r.ProtocolVersion).Append(' ').Append(r.Code.ToString(CultureInfo.InvariantCulture));
        sb.Append(' ').Append(r.Message).Append("\r\n");
        if (r.IsSpam is bool spam)
        {
            sb.Append("Spam: ").Append(spam ? "True" : "False").Append(" ; ").Append(Format(r.Score!.Value))
                .Append(" / ").Append(Format(r.Threshold!.Value)).Append("\r\n");
        }
        byte[] body = Encoding.UTF8.GetBytes(r.Body);
        sb.Append("Content-length: ").Append(body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n\r\n");
        byte[] wire = [.. Encoding.UTF8.GetBytes(sb.ToString()), .. body];
        var unlimited = new SpamdLimits { MaxLineLength = int.MaxValue, MaxHeaders = int.MaxValue, MaxBodyLength = int.MaxValue };
        (bool ok, SpamdResponse? again, SpamdError error, _) = Read(new ReadOnlySequence<byte>(wire), true, unlimited);
        FuzzInvariantException.Check(ok, $"a response written back does not read ({error})");
        bool same = again!.ProtocolVersion == r.ProtocolVersion && again.Code == r.Code && again.IsSpam == r.IsSpam
            && again.Score == r.Score && again.Threshold == r.Threshold && again.Body == r.Body
            && again.Message == r.Message.TrimEnd('\r');
        FuzzInvariantException.Check(same, "a response written back reads differently");
    }

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static bool Same(SpamdResponse? a, SpamdResponse? b) =>
        (a is null && b is null) || (a is not null && b is not null && a == b);

    private static (bool Ok, SpamdResponse? Response, SpamdError Error, long Consumed) Read(ReadOnlySequence<byte> input, bool final, SpamdLimits limits)
    {
        var reader = new SequenceReader<byte>(input);
        bool ok = SpamdResponseReader.TryRead(ref reader, final, limits, out SpamdResponse response, out SpamdError error);
        FuzzInvariantException.Check(ok || reader.Consumed == 0, "a failed read consumed bytes");
        FuzzInvariantException.Check(!ok || error == SpamdError.None, "success with an error");
        return (ok, ok ? response : null, error, reader.Consumed);
    }
}
