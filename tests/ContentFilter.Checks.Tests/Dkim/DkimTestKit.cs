using ContentFilter.Checks.Dkim;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Verdicts;
using ContentFilter.Testing.Daemons;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ContentFilter.Checks.Tests.Dkim;

/// <summary>Keys in a temp folder, signing through the finisher, and the bytes as the doors would send them.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal sealed class DkimTestKit : IDisposable
{
    public static readonly DateTimeOffset Now = new(2026, 11, 24, 7, 0, 0, TimeSpan.Zero);

    public DkimTestKit()
    {
        Directory = Path.Combine(Path.GetTempPath(), "cf-dkim-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Directory { get; }

    public FakeTimeProvider Time { get; } = new(Now);

    public DictionaryDnsResolver Dns { get; } = new();

    public static string SampleMessage => "From: Alice Example <alice@example.com>\r\nTo: bob@example.net\r\nSubject: Hello there\r\n"
        + "Date: Tue, 24 Nov 2026 07:00:00 +0000\r\nMessage-ID: <1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n"
        + "Hello Bob,  \r\n\r\nsee   you\ttomorrow.\r\n\r\n\r\n";

    /// <summary>Writes a new key (mode 0600) and publishes its record in <see cref="Dns"/>.</summary>
    public string NewKey(string domain, string selector, DkimAlgorithm algorithm, int bits = 1024, bool publish = true)
    {
        using DkimPrivateKey key = DkimPrivateKey.Generate(algorithm, bits);
        string path = Path.Combine(Directory, $"{selector}.{domain}.private");
        File.WriteAllText(path, key.ExportPem());
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        if (publish)
        {
            Dns.AddTxt($"{selector}._domainkey.{domain}", key.DnsRecord());
        }
        return path;
    }

    public DkimSigner Signer(DkimOptions options) => new(options, Time, NullLogger<DkimSigner>.Instance);

    /// <summary>Runs the finisher over <paramref name="message"/> and returns its result and the outgoing bytes.</summary>
    public static async Task<(CheckResult? Result, byte[] Output, Verdict Verdict)> SignAsync(DkimSigner signer, byte[] message,
        MessageDirection direction = MessageDirection.Originating, Action<MessageHeaders, HeaderEdits>? edit = null)
    {
        await using MessageSpool spool = await TestMessages.SpoolAsync(message);
        MessageContext context = TestMessages.Context(spool, direction);
        var verdict = new Verdict();
        edit?.Invoke(context.Headers, verdict.Edits);
        CheckResult? result = await signer.FinishAsync(context, verdict, CancellationToken.None);
        using var output = new MemoryStream();
        await OutgoingMessage.WriteAsync(spool, context.Headers, verdict.Edits, output, CancellationToken.None);
        return (result, output.ToArray(), verdict);
    }

    /// <summary>Verifies <paramref name="message"/> with our check against <see cref="Dns"/>.</summary>
    public async Task<AuthResult> VerifyAsync(byte[] message, Checks.Dns.IDnsResolver? dns = null)
    {
        var check = new DkimVerifyCheck(new DkimOptions(), dns ?? Dns, Time, NullLogger<DkimVerifyCheck>.Instance);
        await using MessageSpool spool = await TestMessages.SpoolAsync(message);
        return (AuthResult)await check.RunAsync(TestMessages.Context(spool), CancellationToken.None);
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
