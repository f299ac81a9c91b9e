using System.Buffers;
using System.Text;
using ContentFilter.Protocols.Policy;
using ContentFilter.Protocols.Tests.Smtp;

namespace ContentFilter.Protocols.Tests.Policy;

public class PolicyRequestReaderTests
{
    private const string PostfixRequest =
        "request=smtpd_access_policy\n" +
        "protocol_state=RCPT\n" +
        "protocol_name=ESMTP\n" +
        "client_address=192.0.2.10\n" +
        "client_name=mail.example.com\n" +
        "reverse_client_name=mail.example.com\n" +
        "helo_name=mail.example.com\n" +
        "sender=prvs=1234567890=alice@example.com\n" +
        "recipient=bob@example.net\n" +
        "recipient_count=0\n" +
        "queue_id=\n" +
        "instance=123.456.7\n" +
        "size=0\n" +
        "etrn_domain=\n" +
        "sasl_method=\n" +
        "ccert_subject=\n" +
        "\n";

    private static (List<PolicyRequest> Requests, PolicyError Error, long Consumed) ReadAll(ReadOnlySequence<byte> input, PolicyLimits? limits = null)
    {
        var reader = new PolicyRequestReader(limits ?? new PolicyLimits());
        var requests = new List<PolicyRequest>();
        var seq = new SequenceReader<byte>(input);
        while (true)
        {
            if (reader.TryRead(ref seq, out PolicyRequest? request, out PolicyError error))
            {
                requests.Add(request);
                continue;
            }
            return (requests, error, seq.Consumed);
        }
    }

    private static ReadOnlySequence<byte> Bytes(string s) => new(Encoding.UTF8.GetBytes(s));

    [Fact]
    public void TryRead_PostfixRequest_ReadsAttributes()
    {
        (List<PolicyRequest> requests, PolicyError error, _) = ReadAll(Bytes(PostfixRequest));

        Assert.Equal(PolicyError.None, error);
        PolicyRequest r = Assert.Single(requests);
        Assert.Equal("smtpd_access_policy", r.Request);
        Assert.Equal("RCPT", r.ProtocolState);
        Assert.Equal("192.0.2.10", r.ClientAddress);
        Assert.Equal("mail.example.com", r.ClientName);
        Assert.Equal("prvs=1234567890=alice@example.com", r.Sender);
        Assert.Equal("bob@example.net", r.Recipient);
        Assert.Equal("123.456.7", r.Instance);
        Assert.Equal("", r.QueueId);
        Assert.Equal("", r.EtrnDomain);
        Assert.Null(r.SaslUsername);
        Assert.Equal("0", r.Get("size"));
    }

    [Fact]
    public void TryRead_CrLfLines_AcceptedLikeLf()
    {
        (List<PolicyRequest> requests, PolicyError error, _) = ReadAll(Bytes(PostfixRequest.Replace("\n", "\r\n")));

        Assert.Equal(PolicyError.None, error);
        PolicyRequest r = Assert.Single(requests);
        Assert.Equal("bob@example.net", r.Recipient);
        Assert.Equal(16, r.Attributes.Count);
    }

    [Fact]
    public void TryRead_RepeatedName_LastWins()
    {
        (List<PolicyRequest> requests, _, _) = ReadAll(Bytes("recipient=a@x\nrecipient=b@x\n\n"));

        Assert.Equal("b@x", Assert.Single(requests).Recipient);
    }

    [Fact]
    public void TryRead_ValueWithEquals_SplitsOnFirstEquals()
    {
        (List<PolicyRequest> requests, _, _) = ReadAll(Bytes("sender=a=b=c@x\nx==\n\n"));

        PolicyRequest r = Assert.Single(requests);
        Assert.Equal("a=b=c@x", r.Sender);
        Assert.Equal("=", r.Get("x"));
    }

    [Fact]
    public void TryRead_UnknownNames_KeptButIgnored()
    {
        (List<PolicyRequest> requests, _, _) = ReadAll(Bytes("future_attribute=42\nrecipient=a@x\n\n"));

        PolicyRequest r = Assert.Single(requests);
        Assert.Equal("42", r.Get("future_attribute"));
        Assert.Equal("a@x", r.Recipient);
    }

    [Fact]
    public void TryRead_TwoRequestsInOneBuffer_ReadsBoth()
    {
        (List<PolicyRequest> requests, PolicyError error, long consumed) = ReadAll(Bytes("recipient=a@x\n\nrecipient=b@x\n\n"));

        Assert.Equal(PolicyError.None, error);
        Assert.Equal(["a@x", "b@x"], requests.Select(r => r.Recipient));
        Assert.Equal(30, consumed);
    }

    [Fact]
    public void TryRead_NoEmptyLineYet_NeedsMore()
    {
        var reader = new PolicyRequestReader(new PolicyLimits());
        var seq = new SequenceReader<byte>(Bytes("recipient=a@x\nsender=b"));

        Assert.False(reader.TryRead(ref seq, out _, out PolicyError error));
        Assert.Equal(PolicyError.None, error);
        Assert.True(reader.HasPartialRequest);
        Assert.Equal(14, seq.Consumed);
    }

    [Fact]
    public void TryRead_LeadingEmptyLines_Skipped()
    {
        (List<PolicyRequest> requests, PolicyError error, _) = ReadAll(Bytes("\n\r\nrecipient=a@x\n\n"));

        Assert.Equal(PolicyError.None, error);
        Assert.Equal("a@x", Assert.Single(requests).Recipient);
    }

    [Fact]
    public void TryRead_Utf8Value_Decoded()
    {
        (List<PolicyRequest> requests, _, _) = ReadAll(Bytes("recipient=jörg@bücher.example\n\n"));

        Assert.Equal("jörg@bücher.example", Assert.Single(requests).Recipient);
    }

    [Fact]
    public void TryRead_InvalidUtf8_ReplacedNotFailed()
    {
        byte[] bytes = [.. "sender="u8, 0xFF, 0xFE, .. "@x\n\n"u8];

        (List<PolicyRequest> requests, PolicyError error, _) = ReadAll(new ReadOnlySequence<byte>(bytes));

        Assert.Equal(PolicyError.None, error);
        Assert.Equal("\uFFFD\uFFFD@x", Assert.Single(requests).Sender);
    }

    [Theory]
    [InlineData("garbage\n\n", PolicyError.MissingEquals)]
    [InlineData("=value\n\n", PolicyError.EmptyName)]
    [InlineData("name=va\0lue\n\n", PolicyError.ControlCharacter)]
    [InlineData("name=a\rb\n\n", PolicyError.ControlCharacter)]
    [InlineData("\u0001\u0002\u0003\n", PolicyError.ControlCharacter)]
    [InlineData("GET / HTTP/1.1\r\n\r\n", PolicyError.MissingEquals)]
    public void TryRead_BadLine_TypedError(string input, PolicyError expected)
    {
        (List<PolicyRequest> requests, PolicyError error, _) = ReadAll(Bytes(input));

        Assert.Empty(requests);
        Assert.Equal(expected, error);
    }

    [Fact]
    public void TryRead_LineOverCap_FailsBeforeLineEndArrives()
    {
        var limits = new PolicyLimits { MaxLineLength = 64 };
        var reader = new PolicyRequestReader(limits);
        var seq = new SequenceReader<byte>(Bytes("x=" + new string('a', 62)));

        Assert.False(reader.TryRead(ref seq, out _, out PolicyError error));
        Assert.Equal(PolicyError.LineTooLong, error);
    }

    [Fact]
    public void TryRead_LineAtCap_Accepted()
    {
        var limits = new PolicyLimits { MaxLineLength = 64 };

        (List<PolicyRequest> requests, PolicyError error, _) = ReadAll(Bytes("x=" + new string('a', 61) + "\n\n"), limits);

        Assert.Equal(PolicyError.None, error);
        Assert.Single(requests);
    }

    [Fact]
    public void TryRead_TooManyAttributes_Fails()
    {
        var limits = new PolicyLimits { MaxAttributes = 3 };

        (_, PolicyError error, _) = ReadAll(Bytes("a=1\nb=2\nc=3\nd=4\n\n"), limits);

        Assert.Equal(PolicyError.TooManyAttributes, error);
    }

    [Fact]
    public void TryRead_RequestOverCap_FailsWithoutEmptyLine()
    {
        var limits = new PolicyLimits { MaxRequestBytes = 100, MaxAttributes = 1000 };
        string input = string.Concat(Enumerable.Repeat("name=value\n", 10)) + "nam";

        (_, PolicyError error, _) = ReadAll(Bytes(input), limits);

        Assert.Equal(PolicyError.RequestTooLarge, error);
    }

    [Fact]
    public void TryRead_AfterRequest_SizeCountResets()
    {
        var limits = new PolicyLimits { MaxRequestBytes = 20 };

        (List<PolicyRequest> requests, PolicyError error, _) = ReadAll(Bytes("a=123456789012\n\nb=123456789012\n\n"), limits);

        Assert.Equal(PolicyError.None, error);
        Assert.Equal(2, requests.Count);
    }

    [Fact]
    public void TryRead_SplitAtEveryOffset_SameRequests()
    {
        byte[] all = Encoding.UTF8.GetBytes(PostfixRequest + PostfixRequest.Replace("\n", "\r\n").Replace("bob@", "carol@"));
        for (int split = 0; split <= all.Length; split++)
        {
            var reader = new PolicyRequestReader(new PolicyLimits());
            var requests = new List<PolicyRequest>();
            byte[] pending = [];
            foreach (byte[] chunk in new[] { all[..split], all[split..] })
            {
                byte[] buffer = [.. pending, .. chunk];
                var seq = new SequenceReader<byte>(new ReadOnlySequence<byte>(buffer));
                while (reader.TryRead(ref seq, out PolicyRequest? r, out PolicyError error))
                {
                    requests.Add(r);
                }
                pending = buffer[(int)seq.Consumed..];
            }
            Assert.Equal(["bob@example.net", "carol@example.net"], requests.Select(r => r.Recipient));
            Assert.Equal(16, requests[1].Attributes.Count);
            Assert.Empty(pending);
        }
    }

    [Fact]
    public void TryRead_MultiSegmentAtEveryOffset_SameRequest()
    {
        byte[] all = Encoding.UTF8.GetBytes(PostfixRequest.Replace("\n", "\r\n"));
        for (int split = 1; split < all.Length; split++)
        {
            ReadOnlySequence<byte> seq = Sequences.Of(all[..split], all[split..]);

            (List<PolicyRequest> requests, PolicyError error, long consumed) = ReadAll(seq);

            Assert.Equal(PolicyError.None, error);
            Assert.Equal("bob@example.net", Assert.Single(requests).Recipient);
            Assert.Equal("prvs=1234567890=alice@example.com", requests[0].Sender);
            Assert.Equal(all.Length, consumed);
        }
    }

    [Fact]
    public void TryRead_ByteAtATime_SameRequest()
    {
        byte[] all = Encoding.UTF8.GetBytes(PostfixRequest);
        var reader = new PolicyRequestReader(new PolicyLimits());
        var buffer = new List<byte>();
        PolicyRequest? found = null;
        foreach (byte b in all)
        {
            buffer.Add(b);
            var seq = new SequenceReader<byte>(new ReadOnlySequence<byte>(buffer.ToArray()));
            if (reader.TryRead(ref seq, out PolicyRequest? r, out PolicyError error))
            {
                found = r;
            }
            Assert.Equal(PolicyError.None, error);
            buffer.RemoveRange(0, (int)seq.Consumed);
        }
        Assert.NotNull(found);
        Assert.Equal("192.0.2.10", found.ClientAddress);
    }

    [FsCheck.Xunit.Property(MaxTest = 200)]
    public bool TryRead_ArbitraryBytes_NeverThrows(byte[] input)
    {
        (_, PolicyError error, long consumed) = ReadAll(new ReadOnlySequence<byte>(input ?? []), new PolicyLimits { MaxLineLength = 32, MaxRequestBytes = 64 });
        return consumed <= (input?.Length ?? 0) && Enum.IsDefined(error);
    }
}
