using System.Buffers;
using System.Globalization;
using System.Text;

namespace ContentFilter.Protocols.Spamd;

/// <summary>Reads one spamd response: status line, headers, empty line, body (spamd/PROTOCOL).</summary>
/// <remarks>
/// Pure and resumable: <c>false</c> with <see cref="SpamdError.None"/> means "need more", and the reader is only
/// advanced on success. Every line is capped before its end is searched further. Error responses are a single
/// status line with a non-zero code followed by the close (<c>SPAMD/1.0 76 Bad header line: ...</c>), so at the end
/// of the stream a status line alone is a complete response (PONG too). A body is <c>Content-length</c> bytes, or everything
/// up to the close when spamd sent no length.
/// </remarks>
public static class SpamdResponseReader
{
    /// <summary>Tries to read a whole response.</summary>
    /// <param name="reader">Input; advanced past the response on success.</param>
    /// <param name="isFinalBlock">True when the peer has closed: no more bytes will come.</param>
    /// <param name="limits">Caps.</param>
    /// <param name="response">The response.</param>
    /// <param name="error">Why it failed, or <see cref="SpamdError.None"/> when more bytes are needed.</param>
    public static bool TryRead(ref SequenceReader<byte> reader, bool isFinalBlock, SpamdLimits limits, out SpamdResponse response, out SpamdError error)
    {
        response = null!;
        error = ControlFlow(ref reader, isFinalBlock, limits, out SpamdResponse? parsed, out bool needMore);
        if (needMore || parsed is null)
        {
            return false;
        }
        response = parsed;
        return true;
    }

    private static SpamdError ControlFlow(ref SequenceReader<byte> input, bool isFinalBlock, SpamdLimits limits, out SpamdResponse? response, out bool needMore)
    {
        response = null;
        needMore = false;
        SequenceReader<byte> reader = input;

        // Status line.
        switch (TryReadLine(ref reader, limits, out string? statusLine))
        {
            case LineResult.TooLong:
                return SpamdError.LineTooLong;
            case LineResult.NeedMore:
                if (isFinalBlock)
                {
                    return SpamdError.Truncated;
                }
                needMore = true;
                return SpamdError.None;
        }
        if (!TryParseStatusLine(statusLine!, out string version, out int code, out string message))
        {
            return SpamdError.BadStatusLine;
        }

        // Headers.
        bool? isSpam = null;
        double? score = null;
        double? threshold = null;
        long? contentLength = null;
        int headers = 0;
        while (true)
        {
            LineResult r = TryReadLine(ref reader, limits, out string? line);
            if (r == LineResult.TooLong)
            {
                return SpamdError.LineTooLong;
            }
            if (r == LineResult.NeedMore)
            {
                if (!isFinalBlock)
                {
                    needMore = true;
                    return SpamdError.None;
                }
                if (headers == 0 && reader.Remaining == 0)
                {
                    // A one-line response (an error, or PONG), then the close.
                    response = new SpamdResponse { ProtocolVersion = version, Code = code, Message = message };
                    input = reader;
                    return SpamdError.None;
                }
                return SpamdError.Truncated;
            }
            if (line!.Length == 0)
            {
                break;
            }
            if (++headers > limits.MaxHeaders)
            {
                return SpamdError.BadHeader;
            }
            int colon = line.IndexOf(':');
            if (colon <= 0)
            {
                return SpamdError.BadHeader;
            }
            string name = line[..colon].Trim();
            string value = line[(colon + 1)..].Trim();
            if (name.Equals("Content-length", StringComparison.OrdinalIgnoreCase))
            {
                if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n > limits.MaxBodyLength)
                {
                    return SpamdError.BadContentLength;
                }
                contentLength = n;
            }
            else if (name.Equals("Spam", StringComparison.OrdinalIgnoreCase))
            {
                if (!TryParseSpamHeader(value, out bool s, out double sc, out double th))
                {
                    return SpamdError.BadSpamHeader;
                }
                isSpam = s;
                score = sc;
                threshold = th;
            }
        }

        // Body.
        string body;
        if (contentLength is long length)
        {
            if (reader.Remaining < length)
            {
                if (isFinalBlock)
                {
                    return SpamdError.Truncated;
                }
                needMore = true;
                return SpamdError.None;
            }
            body = Decode(reader.UnreadSequence.Slice(0, length));
            reader.Advance(length);
        }
        else
        {
            if (reader.Remaining > limits.MaxBodyLength)
            {
                return SpamdError.BadContentLength;
            }
            if (!isFinalBlock)
            {
                needMore = true;
                return SpamdError.None;
            }
            body = Decode(reader.UnreadSequence);
            reader.Advance(reader.Remaining);
        }

        response = new SpamdResponse
        {
            ProtocolVersion = version,
            Code = code,
            Message = message,
            IsSpam = isSpam,
            Score = score,
            Threshold = threshold,
            Body = body,
        };
        input = reader;
        return SpamdError.None;
    }

    /// <summary>Parses <c>SPAMD/1.1 0 EX_OK</c>.</summary>
    public static bool TryParseStatusLine(string line, out string version, out int code, out string message)
    {
        version = string.Empty;
        code = -1;
        message = string.Empty;
        if (!line.StartsWith("SPAMD/", StringComparison.Ordinal))
        {
            return false;
        }
        int sp1 = line.IndexOf(' ');
        if (sp1 < 0)
        {
            return false;
        }
        version = line[6..sp1];
        if (version.Length == 0 || !version.All(c => char.IsAsciiDigit(c) || c == '.'))
        {
            return false;
        }
        int sp2 = line.IndexOf(' ', sp1 + 1);
        string codeText = sp2 < 0 ? line[(sp1 + 1)..] : line[(sp1 + 1)..sp2];
        if (codeText.Length is 0 or > 3 || !int.TryParse(codeText, NumberStyles.None, CultureInfo.InvariantCulture, out code))
        {
            return false;
        }
        message = sp2 < 0 ? string.Empty : line[(sp2 + 1)..];
        return true;
    }

    /// <summary>Parses the value of <c>Spam: True ; 1000.0 / 5.0</c> (also <c>Yes</c>/<c>No</c> of REPORT_IFSPAM).</summary>
    public static bool TryParseSpamHeader(string value, out bool isSpam, out double score, out double threshold)
    {
        isSpam = false;
        score = 0;
        threshold = 0;
        int semi = value.IndexOf(';');
        int slash = value.IndexOf('/', semi + 1);
        if (semi < 0 || slash < 0)
        {
            return false;
        }
        string word = value[..semi].Trim();
        if (word.Equals("True", StringComparison.OrdinalIgnoreCase) || word.Equals("Yes", StringComparison.OrdinalIgnoreCase))
        {
            isSpam = true;
        }
        else if (!word.Equals("False", StringComparison.OrdinalIgnoreCase) && !word.Equals("No", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        const NumberStyles style = NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite;
        return double.TryParse(value.AsSpan(semi + 1, slash - semi - 1), style, CultureInfo.InvariantCulture, out score)
            && double.TryParse(value.AsSpan(slash + 1), style, CultureInfo.InvariantCulture, out threshold)
            && double.IsFinite(score) && double.IsFinite(threshold);
    }

    private enum LineResult
    {
        Ok,
        NeedMore,
        TooLong,
    }

    private static LineResult TryReadLine(ref SequenceReader<byte> reader, SpamdLimits limits, out string? line)
    {
        line = null;
        SequenceReader<byte> probe = reader;
        if (!probe.TryReadTo(out ReadOnlySequence<byte> raw, (byte)'\n', advancePastDelimiter: true))
        {
            return reader.Remaining > limits.MaxLineLength ? LineResult.TooLong : LineResult.NeedMore;
        }
        if (raw.Length > limits.MaxLineLength)
        {
            return LineResult.TooLong;
        }
        string text = Decode(raw);
        line = text.EndsWith('\r') ? text[..^1] : text;
        reader = probe;
        return LineResult.Ok;
    }

    private static string Decode(ReadOnlySequence<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
