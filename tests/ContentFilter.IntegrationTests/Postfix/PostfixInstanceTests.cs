using System.Net;
using System.Net.Sockets;
using System.Text;
using ContentFilter.IntegrationTests.Fixtures;
using ContentFilter.Testing;
using ContentFilter.Testing.Daemons;
using ContentFilter.Testing.Messages;
using ContentFilter.Testing.Smtp;

namespace ContentFilter.IntegrationTests.Postfix;

/// <summary>
/// The private Postfix fixture on its own (no contentfilter): the ground truth the end-to-end tests rely on.
/// If these fail, the proxy tests would fail for reasons that are not the filter's.
/// </summary>
public sealed class PostfixInstanceTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [SkippableTheory]
    [MemberData(nameof(SampleMessage.Files), MemberType = typeof(SampleMessage))]
    public async Task PostfixInstance_RawClientToMaildir_DeliversSampleIntactApartFromTraceHeaders(string file)
    {
        SampleMessage message = SampleMessage.Get(file);
        await using PostfixInstance postfix = await PostfixInstance.StartAsync();

        var (client, greeting) = await RawSmtpClient.ConnectAsync(postfix.SmtpPort);
        await using (client)
        {
            Assert.Equal(220, greeting.Code);
            await client.EhloAsync();
            SmtpReply reply = await client.SendMailAsync(message.Sender, [message.Recipient], message.Bytes(), message.MailParameters);
            Assert.Equal(250, reply.Code);
            await client.QuitAsync();
        }

        IReadOnlyList<byte[]> delivered = await postfix.WaitForDeliveriesAsync(1, Deadline);
        Assert.Single(delivered);
        DeliveryComparison c = DeliveredMessage.Compare(message.Bytes(), delivered[0], DeliveredMessage.PostfixTraceFields);
        Assert.True(c.Intact, c.Problem + "\n" + postfix.Diagnostics());
        Assert.Contains(c.AddedFields, f => f.StartsWith("Received: ", StringComparison.Ordinal));
        Assert.Contains(c.AddedFields, f => f == $"Delivered-To: {message.Recipient}");
    }

    [SkippableFact]
    public async Task PostfixInstance_ContentFilterPortClosed_LogsDeferredAndKeepsMessage()
    {
        int closedPort = TestPaths.FreePort();
        await using PostfixInstance postfix = await PostfixInstance.StartAsync(new PostfixOptions { ContentFilterPort = closedPort, ReinjectionListener = true });
        await using var chainLike = new QueueProbe(postfix);

        string queueId = await chainLike.SubmitAsync(SampleMessage.Get("7bit.eml"));

        string line = await postfix.WaitForLogAsync(l => l.Contains($"{queueId}: to=<user@dest.test>", StringComparison.Ordinal) && l.Contains("status=deferred", StringComparison.Ordinal), Deadline, "the deferral");
        Assert.Contains($"127.0.0.1[127.0.0.1]:{closedPort}", line, StringComparison.Ordinal);
        IReadOnlyList<PostfixQueueEntry> queue = await postfix.ListQueueAsync();
        PostfixQueueEntry entry = Assert.Single(queue);
        Assert.Equal(queueId, entry.QueueId);
        Assert.Equal("deferred", entry.QueueName);
        Assert.Empty(postfix.DeliveredFiles());
    }

    [SkippableFact]
    public async Task PostfixInstance_ContentFilterAccepts_LogsSentViaCfilter()
    {
        // smtp-sink stands where contentfilter will: what "the filter accepted it" looks like in Postfix's log.
        int sinkPort = TestPaths.FreePort();
        await using SmtpSinkProcess sink = await SmtpSinkProcess.StartAsync(sinkPort);
        await using PostfixInstance postfix = await PostfixInstance.StartAsync(new PostfixOptions { ContentFilterPort = sinkPort, ReinjectionListener = true });

        string queueId = await new QueueProbe(postfix).SubmitAsync(SampleMessage.Get("7bit.eml"));

        string line = await postfix.WaitForLogAsync(l => l.Contains($" {queueId}: to=", StringComparison.Ordinal) && l.Contains("status=sent", StringComparison.Ordinal), Deadline, "delivery to the filter");
        Assert.Contains("/cfilter/", line, StringComparison.Ordinal);
        Assert.Contains($"relay=127.0.0.1[127.0.0.1]:{sinkPort}", line, StringComparison.Ordinal);
        await postfix.WaitForEmptyQueueAsync(Deadline);
    }

    [SkippableTheory]
    [InlineData("rcpt")]
    [InlineData(".")]
    public async Task PostfixInstance_ContentFilterAnswers4xx_LogsDeferredSaidFourAndKeepsMessage(string refusedCommand)
    {
        int sinkPort = TestPaths.FreePort();
        await using SmtpSinkProcess sink = await SmtpSinkProcess.StartAsync(sinkPort, "-r", refusedCommand);
        await using PostfixInstance postfix = await PostfixInstance.StartAsync(new PostfixOptions { ContentFilterPort = sinkPort, ReinjectionListener = true });

        string queueId = await new QueueProbe(postfix).SubmitAsync(SampleMessage.Get("7bit.eml"));

        string line = await postfix.WaitForLogAsync(l => l.Contains($" {queueId}: to=", StringComparison.Ordinal) && l.Contains("status=deferred", StringComparison.Ordinal), Deadline, "the deferral");
        Assert.Contains("said: 4", line, StringComparison.Ordinal);
        PostfixQueueEntry entry = Assert.Single(await postfix.ListQueueAsync());
        Assert.Equal(queueId, entry.QueueId);
        Assert.Empty(postfix.DeliveredFiles());
    }

    [SkippableFact]
    public async Task PostfixInstance_ReinjectionSmtpd_AcceptsXforwardAndDeliversWithoutContentFilter()
    {
        // The filter's next hop: XFORWARD from loopback is authorised and content_filter is off there (no loop),
        // even though the instance's main.cf sends everything else to a (closed) content filter.
        await using PostfixInstance postfix = await PostfixInstance.StartAsync(new PostfixOptions { ContentFilterPort = TestPaths.FreePort(), ReinjectionListener = true });
        SampleMessage message = SampleMessage.Get("dot-lines.eml");

        var (client, _) = await RawSmtpClient.ConnectAsync(postfix.ReinjectPort);
        await using (client)
        {
            SmtpReply ehlo = await client.EhloAsync();
            Assert.Contains(ehlo.Lines, l => l.StartsWith("XFORWARD", StringComparison.Ordinal));
            Assert.Equal(250, (await client.CommandAsync("XFORWARD NAME=client.example ADDR=192.0.2.7 PORT=4711 PROTO=ESMTP HELO=client.example SOURCE=REMOTE")).Code);
            SmtpReply reply = await client.SendMailAsync(message.Sender, [message.Recipient], message.Bytes());
            Assert.Equal(250, reply.Code);
            await client.QuitAsync();
        }

        IReadOnlyList<byte[]> delivered = await postfix.WaitForDeliveriesAsync(1, Deadline);
        DeliveryComparison c = DeliveredMessage.Compare(message.Bytes(), delivered[0], DeliveredMessage.PostfixTraceFields);
        Assert.True(c.Intact, c.Problem);
        // Postfix 3.7 logs the forwarded client (the Received: field names the real one).
        Assert.NotEmpty(postfix.LogLines(l => l.Contains("orig_client=client.example[192.0.2.7]", StringComparison.Ordinal)));
    }

    [SkippableFact]
    public async Task PostfixInstance_ReinjectionToggled_PortClosesAndReopensWhileQueueKeepsRunning()
    {
        await using PostfixInstance postfix = await PostfixInstance.StartAsync(new PostfixOptions { ReinjectionListener = true });
        int master = postfix.MasterPid ?? throw new InvalidOperationException("no master");

        await postfix.SetReinjectionEnabledAsync(false);
        Assert.False(await Poll.IsListeningAsync(postfix.ReinjectPort));
        Assert.True(await Poll.IsListeningAsync(postfix.SmtpPort));

        await postfix.SetReinjectionEnabledAsync(true);
        Assert.True(await Poll.IsListeningAsync(postfix.ReinjectPort));
        Assert.Equal(master, postfix.MasterPid);
    }

    [SkippableFact]
    public async Task PostfixInstance_TwoInstances_RunSideBySideWithSeparateQueuesAndMaildirs()
    {
        await using PostfixInstance a = await PostfixInstance.StartAsync();
        await using PostfixInstance b = await PostfixInstance.StartAsync();
        Assert.NotEqual(a.MasterPid, b.MasterPid);
        Assert.NotEqual(a.SmtpPort, b.SmtpPort);
        Assert.NotEqual(a.QueueDirectory, b.QueueDirectory);

        await new QueueProbe(a).SubmitAsync(SampleMessage.Get("7bit.eml"));
        await new QueueProbe(b).SubmitAsync(SampleMessage.Get("8bit-utf8.eml"));
        await new QueueProbe(b).SubmitAsync(SampleMessage.Get("dot-lines.eml"));

        Assert.Single(await a.WaitForDeliveriesAsync(1, Deadline));
        Assert.Equal(2, (await b.WaitForDeliveriesAsync(2, Deadline)).Count);
        await a.WaitForEmptyQueueAsync(Deadline);
        Assert.Single(a.DeliveredFiles());
        Assert.Contains("Subject: Plain 7-bit message", Encoding.UTF8.GetString(File.ReadAllBytes(a.DeliveredFiles()[0])), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task PostfixInstance_Stop_MasterExitsAndPortsClose()
    {
        PostfixInstance postfix = await PostfixInstance.StartAsync(new PostfixOptions { ReinjectionListener = true });
        await using (postfix)
        {
            int master = postfix.MasterPid ?? throw new InvalidOperationException("no master");
            await postfix.StopAsync();
            Assert.False(ProcStatus.IsAlive(master));
            Assert.Null(postfix.MasterPid);
            Assert.False(await Poll.IsListeningAsync(postfix.SmtpPort));
        }
        Assert.False(Directory.Exists(postfix.RootDirectory) && Environment.GetEnvironmentVariable("CF_KEEP_TEST_DIRS") != "1");
    }

    [Fact]
    public void SampleMessages_EveryTestdataMessage_HasAnEnvelopeAndCrlfLines()
    {
        string[] files = Directory.GetFiles(TestPaths.Messages, "*.eml").Select(Path.GetFileName).ToArray()!;
        Assert.Equal(files.Order(StringComparer.Ordinal), SampleMessage.All.Select(m => m.File).Order(StringComparer.Ordinal));
        foreach (SampleMessage m in SampleMessage.All)
        {
            byte[] bytes = m.Bytes();
            Assert.True(bytes.AsSpan().EndsWith("\r\n"u8), $"{m.File} must end with CRLF");
            for (int i = 0; i < bytes.Length; i++)
            {
                bool lf = bytes[i] == (byte)'\n';
                bool cr = bytes[i] == (byte)'\r';
                Assert.False(lf && (i == 0 || bytes[i - 1] != (byte)'\r'), $"{m.File}: bare LF at {i}");
                Assert.False(cr && (i + 1 >= bytes.Length || bytes[i + 1] != (byte)'\n'), $"{m.File}: bare CR at {i}");
            }
        }
    }

    [Fact]
    public void TestPaths_FreePorts_AreDistinctAndBindable()
    {
        int[] ports = TestPaths.FreePorts(5);
        Assert.Equal(5, ports.Distinct().Count());
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, ports[0]));
    }

    /// <summary>Postfix's smtp-sink on a loopback port, stopped by its pid.</summary>
    private sealed class SmtpSinkProcess : IAsyncDisposable
    {
        private readonly System.Diagnostics.Process _process;

        private SmtpSinkProcess(System.Diagnostics.Process process) => _process = process;

        public static async Task<SmtpSinkProcess> StartAsync(int port, params string[] options)
        {
            Skip.IfNot(File.Exists("/usr/sbin/smtp-sink"), "smtp-sink is not installed (postfix package)");
            var psi = new System.Diagnostics.ProcessStartInfo("/usr/sbin/smtp-sink") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            if (Environment.IsPrivilegedProcess)
            {
                psi.ArgumentList.Add("-u"); // smtp-sink refuses to run as root
                psi.ArgumentList.Add("nobody");
            }
            foreach (string o in options)
            {
                psi.ArgumentList.Add(o);
            }
            psi.ArgumentList.Add($"127.0.0.1:{port}");
            psi.ArgumentList.Add("10");
            var process = System.Diagnostics.Process.Start(psi)!;
            var sink = new SmtpSinkProcess(process);
            try
            {
                await Poll.UntilAsync(
                    async () => process.HasExited
                        ? throw new InvalidOperationException("smtp-sink exited: " + await process.StandardError.ReadToEndAsync())
                        : await Poll.IsListeningAsync(port),
                    TimeSpan.FromSeconds(10),
                    $"smtp-sink on {port}");
            }
            catch
            {
                await sink.DisposeAsync();
                throw;
            }
            return sink;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }
            _process.Dispose();
        }
    }

    /// <summary>Submits to a Postfix instance's smtpd (the part of <see cref="FilterChain"/> that needs no filter).</summary>
    private sealed class QueueProbe(PostfixInstance postfix) : IAsyncDisposable
    {
        public async Task<string> SubmitAsync(SampleMessage message)
        {
            var (client, _) = await RawSmtpClient.ConnectAsync(postfix.SmtpPort);
            await using (client)
            {
                await client.EhloAsync();
                SmtpReply reply = await client.SendMailAsync(message.Sender, [message.Recipient], message.Bytes(), message.MailParameters);
                Assert.Equal(250, reply.Code);
                await client.QuitAsync();
                return FilterChain.QueueId(reply);
            }
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
