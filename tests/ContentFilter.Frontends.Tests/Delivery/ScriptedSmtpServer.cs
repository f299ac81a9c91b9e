using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ContentFilter.Frontends.Tests.Delivery;

/// <summary>One command as the scripted server saw it.</summary>
public sealed record ServerCommand(int Connection, string Line)
{
    public string Verb => Line.Split(' ', 2)[0].ToUpperInvariant() switch
    {
        "MAIL" => "MAIL",
        "RCPT" => "RCPT",
        string v => v,
    };
}

/// <summary>
/// A scripted SMTP server on 127.0.0.1:0: default Postfix-like answers, overridable per command. Special answers:
/// <see cref="Close"/> closes without replying, <see cref="Hang"/> never replies, <see cref="DropInData"/> answers
/// 354 and closes after the first data bytes. DATA is read strictly until CRLF.CRLF and kept as wire bytes.
/// </summary>
public sealed class ScriptedSmtpServer : IAsyncDisposable
{
    public const string Close = "<close>";
    public const string Hang = "<hang>";
    public const string DropInData = "<drop-in-data>";

    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private readonly ConcurrentBag<Task> _sessions = new();
    private int _connections;
    private int _queued;

    public ScriptedSmtpServer()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accept = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string Endpoint => $"127.0.0.1:{Port}";

    public string Greeting { get; set; } = "220 fake.example ESMTP";

    public string[] EhloLines { get; set; } =
    {
        "fake.example", "PIPELINING", "SIZE 10240000", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8",
        "XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT",
    };

    /// <summary>Returns the reply (CRLF-separated lines allowed, no final CRLF) or null for the default.</summary>
    public Func<ServerCommand, string?>? Respond { get; set; }

    /// <summary>Close every connection right after a completed transaction (the next hop closing idle connections).</summary>
    public bool CloseAfterTransaction { get; set; }

    /// <summary>Every command line received, in order.</summary>
    public ConcurrentQueue<ServerCommand> Commands { get; } = new();

    /// <summary>Wire bytes of each completed DATA phase, from after 354 through the final <c>.CRLF</c>.</summary>
    public ConcurrentQueue<byte[]> Messages { get; } = new();

    /// <summary>Bytes received in DATA phases that never ended with CRLF.CRLF.</summary>
    public ConcurrentQueue<byte[]> AbandonedData { get; } = new();

    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Connections that have ended (closed by either side).</summary>
    public int ClosedConnections => _closed;

    private int _closed;

    public IEnumerable<string> Lines(string verb) => Commands.Where(c => c.Verb == verb).Select(c => c.Line);

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            int id = Interlocked.Increment(ref _connections);
            _sessions.Add(Task.Run(() => SessionAsync(socket, id)));
        }
    }

    private async Task SessionAsync(Socket socket, int id)
    {
        using var stream = new NetworkStream(socket, ownsSocket: true);
        var buffer = new List<byte>();
        var chunk = new byte[8192];
        try
        {
            await SendAsync(stream, Greeting);
            while (true)
            {
                string? line = await ReadLineAsync(stream, buffer, chunk);
                if (line is null)
                {
                    return;
                }
                var command = new ServerCommand(id, line);
                Commands.Enqueue(command);
                string reply = Respond?.Invoke(command) ?? Default(command);
                if (reply == Close)
                {
                    return;
                }
                if (reply == Hang)
                {
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                }
                if (command.Verb == "DATA" && (reply.StartsWith("354", StringComparison.Ordinal) || reply == DropInData))
                {
                    await SendAsync(stream, reply == DropInData ? "354 End data with <CR><LF>.<CR><LF>" : reply);
                    byte[]? data = await ReadDataAsync(stream, buffer, chunk, dropEarly: reply == DropInData);
                    if (data is null)
                    {
                        return;
                    }
                    Messages.Enqueue(data);
                    var dot = new ServerCommand(id, ".");
                    Commands.Enqueue(dot);
                    string dotReply = Respond?.Invoke(dot) ?? $"250 2.0.0 Ok: queued as QID{Interlocked.Increment(ref _queued)}";
                    if (dotReply == Close)
                    {
                        return;
                    }
                    if (dotReply == Hang)
                    {
                        await Task.Delay(Timeout.Infinite, _stop.Token);
                    }
                    await SendAsync(stream, dotReply);
                    if (CloseAfterTransaction)
                    {
                        return;
                    }
                    continue;
                }
                await SendAsync(stream, reply);
                if (command.Verb == "QUIT")
                {
                    return;
                }
            }
        }
        catch (Exception)
        {
            // Client went away or the server stopped.
        }
        finally
        {
            Interlocked.Increment(ref _closed);
        }
    }

    private string Default(ServerCommand command) => command.Verb switch
    {
        "EHLO" => string.Join("\r\n", EhloLines.Select((l, i) => (i == EhloLines.Length - 1 ? "250 " : "250-") + l)),
        "HELO" => "250 fake.example",
        "XFORWARD" => "250 2.0.0 Ok",
        "MAIL" => "250 2.1.0 Ok",
        "RCPT" => "250 2.1.5 Ok",
        "DATA" => "354 End data with <CR><LF>.<CR><LF>",
        "RSET" => "250 2.0.0 Ok",
        "NOOP" => "250 2.0.0 Ok",
        "QUIT" => "221 2.0.0 Bye",
        _ => "502 5.5.2 Error: command not recognized",
    };

    private static async Task SendAsync(Stream stream, string reply)
    {
        await stream.WriteAsync(Encoding.UTF8.GetBytes(reply + "\r\n"));
    }

    private static async Task<string?> ReadLineAsync(Stream stream, List<byte> buffer, byte[] chunk)
    {
        while (true)
        {
            int lf = buffer.IndexOf((byte)'\n');
            if (lf >= 0)
            {
                int end = lf > 0 && buffer[lf - 1] == (byte)'\r' ? lf - 1 : lf;
                string line = Encoding.UTF8.GetString(buffer.GetRange(0, end).ToArray());
                buffer.RemoveRange(0, lf + 1);
                return line;
            }
            int n = await stream.ReadAsync(chunk);
            if (n == 0)
            {
                return null;
            }
            buffer.AddRange(chunk.AsSpan(0, n).ToArray());
        }
    }

    private async Task<byte[]?> ReadDataAsync(Stream stream, List<byte> buffer, byte[] chunk, bool dropEarly)
    {
        // Strict RFC 5321 end: CRLF . CRLF, where the first CRLF may be DATA's own (message starts with ".CRLF").
        var data = new List<byte>();
        while (true)
        {
            while (buffer.Count > 0)
            {
                data.Add(buffer[0]);
                buffer.RemoveAt(0);
                int c = data.Count;
                bool end = (c == 3 && data[0] == '.' && data[1] == '\r' && data[2] == '\n')
                    || (c >= 5 && data[c - 5] == '\r' && data[c - 4] == '\n' && data[c - 3] == '.' && data[c - 2] == '\r' && data[c - 1] == '\n');
                if (end)
                {
                    return data.ToArray();
                }
            }
            if (dropEarly && data.Count > 0)
            {
                AbandonedData.Enqueue(data.ToArray());
                return null;
            }
            int n = await stream.ReadAsync(chunk);
            if (n == 0)
            {
                AbandonedData.Enqueue(data.ToArray());
                return null;
            }
            buffer.AddRange(chunk.AsSpan(0, n).ToArray());
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        try
        {
            await _accept;
        }
        catch (Exception)
        {
        }
        foreach (Task t in _sessions)
        {
            try
            {
                await t.WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception)
            {
            }
        }
        _stop.Dispose();
    }
}
