using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ContentFilter.Checks.Greylisting;
using ContentFilter.Frontends.Policy;
using ContentFilter.Frontends.Tests.Policy;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

// serve --store sqlite|redis [--db PATH] [--redis CONFIG] : prints "PORT n" and serves until stdin closes.
// null --port N [--redis HOST:PORT --script FILE] : a policy server that decides nothing, until killed.
// load --port N [--connections 10] [--requests 20000] [--seed S] : prints "qps=.. p50_ms=.. p99_ms=.. deferred=.."
string mode = args.Length > 0 ? args[0] : "";
string Arg(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

if (mode == "serve")
{
    var options = new GreylistOptions
    {
        Store = Arg("--store", "sqlite"),
        SqlitePath = Arg("--db", Path.Combine(Path.GetTempPath(), "cf-bench-greylist.db")),
        RedisConfiguration = Arg("--redis", "127.0.0.1:6379"),
        RedisKeyPrefix = "bench:" + Guid.NewGuid().ToString("N")[..8] + ":",
        HostName = "bench.test",
        WhitelistClientFiles = [],
        WhitelistRecipientFiles = [],
    };
    await using IGreylistStore store = await GreylistStoreFactory.CreateAsync(options);
    var engine = new GreylistEngine(options, store, [], TimeProvider.System, NullLogger<GreylistEngine>.Instance);
    var session = new PolicySession(new PolicySessionOptions(), engine, TimeProvider.System, NullLogger<PolicySession>.Instance);
    await using var server = new PolicyTcpServer(session);
    Console.WriteLine($"PORT {server.Port}");
    Console.Out.Flush();
    await Console.In.ReadToEndAsync();
    return 0;
}

if (mode == "null")
{
    // The floor for a .NET policy server on this machine, beside scripts/nullpolicy.c's for C: it answers every
    // query with the DEFER_IF_PERMIT line, with socket completions inline on the epoll thread and the thread-pool
    // setting as ContentFilter runs (its Program and runtimeconfig). With --redis and --script it first runs the
    // script once per query through StackExchange.Redis (EVALSHA), with the keys and arguments nullpolicy.c gives it.
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
    byte[] answer = "action=DEFER_IF_PERMIT 4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/bench.test.html\n\n"u8.ToArray();
    string redisEndpoint = Arg("--redis", "");
    IDatabase? redis = null;
    string script = "";
    if (redisEndpoint.Length > 0)
    {
        script = File.ReadAllText(Arg("--script", "check.lua"));
        redis = (await ConnectionMultiplexer.ConnectAsync(redisEndpoint)).GetDatabase();
    }
    using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    listener.Bind(new IPEndPoint(IPAddress.Loopback, int.Parse(Arg("--port", "10023"))));
    listener.Listen(128);
    while (true)
    {
        Socket client = await listener.AcceptAsync();
        client.NoDelay = true;
        _ = Task.Run(() => NullSessionAsync(client));
    }

    async Task NullSessionAsync(Socket socket)
    {
        using (socket)
        {
            byte[] buffer = new byte[65536];
            int have = 0;
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer.AsMemory(have), SocketFlags.None);
                if (n == 0 || (have += n) == buffer.Length)
                {
                    return;
                }
                int from = 0;
                for (int end; (end = buffer.AsSpan(from, have - from).IndexOf("\n\n"u8)) >= 0; from += end + 2)
                {
                    if (redis is not null)
                    {
                        string request = Encoding.ASCII.GetString(buffer, from, end + 1);
                        string address = Attribute(request, "client_address");
                        RedisKey[] keys = [$"nullpolicy:t:{address}/{Attribute(request, "sender")}/{Attribute(request, "recipient")}", $"nullpolicy:c:{address}"];
                        await redis.ScriptEvaluateAsync(script, keys, [DateTimeOffset.UtcNow.ToUnixTimeSeconds(), 300, 172800, 3024000, 5, 3600, 1]);
                    }
                    await socket.SendAsync(answer, SocketFlags.None);
                }
                buffer.AsSpan(from, have - from).CopyTo(buffer);
                have -= from;
            }
        }
    }

    // The value of a "name=" line other than the first (request=), or "".
    static string Attribute(string request, string name)
    {
        int at = request.IndexOf("\n" + name + "=", StringComparison.Ordinal);
        if (at < 0)
        {
            return "";
        }
        int start = at + name.Length + 2;
        int end = request.IndexOf('\n', start);
        return request[start..(end < 0 ? request.Length : end)];
    }
}

if (mode == "load")
{
    int port = int.Parse(Arg("--port", "10023"));
    int connections = int.Parse(Arg("--connections", "10"));
    int total = int.Parse(Arg("--requests", "20000"));
    string seed = Arg("--seed", "run");
    int next = -1;
    int deferred = 0;
    var latencies = new double[total];

    // The whole stream is built before the clock starts, so the generator's own CPU during the run is sending and
    // receiving only (it shares the machine's CPUs with the server it measures).
    var requests = new byte[total][];
    for (int i = 0; i < total; i++)
    {
        // A fresh triplet per query: a different client network, sender and recipient each time.
        string request =
            "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n" +
            $"client_address=10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n" +
            $"client_name=mx{i}.sender{i % 97}.example\nreverse_client_name=mx{i}.sender{i % 97}.example\n" +
            $"helo_name=mx{i}.sender{i % 97}.example\n" +
            $"sender=news-{seed}-{i}@sender{i % 97}.example\n" +
            $"recipient=user{i}@{seed}.example.net\n" +
            $"recipient_count=0\nqueue_id=\ninstance={seed}.{i}\nsize=0\netrn_domain=\nstress=\nsasl_method=\nsasl_username=\nsasl_sender=\nccert_subject=\nccert_issuer=\nccert_fingerprint=\nencryption_protocol=\nencryption_cipher=\nencryption_keysize=0\n\n";
        requests[i] = Encoding.ASCII.GetBytes(request);
    }
    byte[] deferPrefix = "action=DEFER_IF_PERMIT"u8.ToArray();

    // As Postfix's smtpd does: each connection sends one query and blocks until its reply, on its own thread.
    var sockets = new Socket[connections];
    for (int c = 0; c < connections; c++)
    {
        sockets[c] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        sockets[c].Connect(IPAddress.Loopback, port);
    }

    Exception? failure = null;
    void Worker(Socket socket)
    {
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                int i = Interlocked.Increment(ref next);
                if (i >= total)
                {
                    return;
                }
                long start = Stopwatch.GetTimestamp();
                socket.Send(requests[i]);
                int have = 0;
                while (true)
                {
                    int n = socket.Receive(buffer, have, buffer.Length - have, SocketFlags.None);
                    if (n == 0)
                    {
                        throw new IOException("server closed the connection");
                    }
                    have += n;
                    if (have >= 2 && buffer[have - 1] == '\n' && buffer[have - 2] == '\n')
                    {
                        break;
                    }
                }
                latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (buffer.AsSpan(0, have).StartsWith(deferPrefix))
                {
                    Interlocked.Increment(ref deferred);
                }
            }
        }
        catch (Exception ex)
        {
            Interlocked.CompareExchange(ref failure, ex, null);
        }
    }

    TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
    var clock = Stopwatch.StartNew();
    Thread[] threads = sockets.Select(s => new Thread(() => Worker(s)) { IsBackground = true }).ToArray();
    foreach (Thread t in threads)
    {
        t.Start();
    }
    foreach (Thread t in threads)
    {
        t.Join();
    }
    double seconds = clock.Elapsed.TotalSeconds;
    double cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds;
    foreach (Socket socket in sockets)
    {
        socket.Dispose();
    }
    if (failure is not null)
    {
        Console.Error.WriteLine(failure);
        return 1;
    }
    Array.Sort(latencies);
    double P(double q) => latencies[Math.Min(latencies.Length - 1, (int)(q * latencies.Length))];
    Console.WriteLine($"qps={total / seconds:0} p50_ms={P(0.50):0.000} p99_ms={P(0.99):0.000} deferred={deferred}/{total} seconds={seconds:0.00} load_cpu_ms_per_query={cpuMs / total:0.0000}");
    return deferred == total ? 0 : 2;
}

Console.Error.WriteLine("usage: serve --store sqlite|redis [--db PATH] [--redis CONFIG] | null --port N [--redis HOST:PORT --script FILE] | load --port N [--connections 10] [--requests 20000] [--seed S]");
return 64;
