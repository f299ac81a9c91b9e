using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;

namespace ContentFilter.Testing.Hostile;

/// <summary>Generates the huge hostile inputs from the small recipes in the corpus files.</summary>
/// <remarks>
/// Kinds (every other key is the kind's parameter):
/// <list type="bullet">
/// <item><c>repeat</c>: <c>prefix</c> + <c>unit</c> × <c>count</c> + <c>suffix</c> (a 100 KB command line, a huge attribute).</item>
/// <item><c>trickle</c>: <c>text</c>, sent one byte every <c>intervalMs</c> by the runner (a slow client).</item>
/// <item><c>endless</c>: <c>chunk</c>, sent again and again (every <c>intervalMs</c>, or at full speed) until the door hangs up.</item>
/// <item><c>mime-nested</c>: <c>depth</c> multiparts, each inside the previous one.</item>
/// <item><c>mime-parts</c>: one multipart with <c>count</c> tiny parts.</item>
/// <item><c>big-header</c>: one header field of about <c>bytes</c> bytes, folded into <c>lineLength</c>-byte lines.</item>
/// <item><c>zip-bomb</c>: <c>name</c>.zip holding <c>fanout</c> copies of a zip whose one entry is <c>innerBytes</c> zero bytes.</item>
/// <item><c>zip-many-entries</c>: a zip with <c>entries</c> empty files.</item>
/// <item><c>zip-deep</c>: zips nested <c>depth</c> deep with <c>innerName</c> (MZ content) at the bottom.</item>
/// </list>
/// </remarks>
public static class HostileRecipes
{
    private const string Headers =
        "From: <hostile@example.org>\r\nTo: <user@dest.test>\r\nSubject: hostile corpus\r\nMessage-ID: <hostile@example.org>\r\nMIME-Version: 1.0\r\n";

    /// <summary>The bytes a recipe describes.</summary>
    public static byte[] Generate(JsonObject recipe)
    {
        string kind = recipe["kind"]!.GetValue<string>();
        string S(string key, string fallback = "") => recipe[key]?.GetValue<string>() ?? fallback;
        int I(string key, int fallback = 0) => recipe[key]?.GetValue<int>() ?? fallback;
        return kind switch
        {
            "repeat" => Latin1(S("prefix") + string.Concat(Enumerable.Repeat(S("unit"), I("count"))) + S("suffix")),
            "trickle" => Latin1(S("text")),
            "endless" => Latin1(S("chunk")),
            "mime-nested" => Latin1(Nested(I("depth"))),
            "mime-parts" => Latin1(ManyParts(I("count"))),
            "big-header" => Latin1(BigHeader(I("bytes"), I("lineLength", 998))),
            "zip-bomb" => Attachment(S("name", "bomb") + ".zip", ZipBomb(I("fanout"), I("innerBytes"))),
            "zip-many-entries" => Attachment("many.zip", ManyEntries(I("entries"))),
            "zip-deep" => Attachment("deep.zip", Deep(I("depth"), S("innerName", "payload.exe"))),
            _ => throw new InvalidDataException($"unknown recipe kind '{kind}'"),
        };
    }

    private static byte[] Latin1(string s) => Encoding.Latin1.GetBytes(s);

    private static string Nested(int depth)
    {
        var sb = new StringBuilder(depth * 120);
        sb.Append(Headers).Append("Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n");
        for (int i = 0; i < depth; i++)
        {
            sb.Append("--b").Append(i).Append("\r\nContent-Type: multipart/mixed; boundary=\"b").Append(i + 1).Append("\"\r\n\r\n");
        }
        sb.Append("--b").Append(depth).Append("\r\nContent-Type: text/plain\r\n\r\nbottom\r\n");
        for (int i = depth; i >= 0; i--)
        {
            sb.Append("--b").Append(i).Append("--\r\n");
        }
        return sb.ToString();
    }

    private static string ManyParts(int count)
    {
        var sb = new StringBuilder(count * 60);
        sb.Append(Headers).Append("Content-Type: multipart/mixed; boundary=\"p\"\r\n\r\n");
        for (int i = 0; i < count; i++)
        {
            sb.Append("--p\r\nContent-Type: text/plain\r\n\r\n").Append(i).Append("\r\n");
        }
        sb.Append("--p--\r\n");
        return sb.ToString();
    }

    private static string BigHeader(int bytes, int lineLength)
    {
        var sb = new StringBuilder(bytes + 1024);
        sb.Append(Headers).Append("X-Big: start");
        string fold = "\r\n\t" + new string('h', Math.Max(1, lineLength - 3));
        while (sb.Length < bytes)
        {
            sb.Append(fold);
        }
        sb.Append("\r\nContent-Type: text/plain\r\n\r\nbody after a big header\r\n");
        return sb.ToString();
    }

    private static byte[] Attachment(string fileName, byte[] content)
    {
        var sb = new StringBuilder(content.Length * 4 / 3 + 1024);
        sb.Append(Headers).Append("Content-Type: multipart/mixed; boundary=\"a\"\r\n\r\n")
          .Append("--a\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n")
          .Append("--a\r\nContent-Type: application/zip; name=\"").Append(fileName)
          .Append("\"\r\nContent-Disposition: attachment; filename=\"").Append(fileName)
          .Append("\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        string b64 = Convert.ToBase64String(content);
        for (int i = 0; i < b64.Length; i += 76)
        {
            sb.Append(b64, i, Math.Min(76, b64.Length - i)).Append("\r\n");
        }
        sb.Append("--a--\r\n");
        return Latin1(sb.ToString());
    }

    private static byte[] Zip(Action<ZipArchive> fill)
    {
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            fill(zip);
        }
        return ms.ToArray();
    }

    private static byte[] ZipBomb(int fanout, int innerBytes)
    {
        byte[] inner = Zip(z =>
        {
            using Stream s = z.CreateEntry("zeros.bin", CompressionLevel.SmallestSize).Open();
            byte[] zeros = new byte[1024 * 1024];
            for (int left = innerBytes; left > 0; left -= zeros.Length)
            {
                s.Write(zeros, 0, Math.Min(zeros.Length, left));
            }
        });
        return Zip(z =>
        {
            for (int i = 0; i < fanout; i++)
            {
                using Stream s = z.CreateEntry($"layer-{i:D2}.zip", CompressionLevel.NoCompression).Open();
                s.Write(inner);
            }
        });
    }

    private static byte[] ManyEntries(int entries) => Zip(z =>
    {
        for (int i = 0; i < entries; i++)
        {
            z.CreateEntry($"f{i}.txt", CompressionLevel.NoCompression);
        }
    });

    private static byte[] Deep(int depth, string innerName)
    {
        byte[] current = Zip(z =>
        {
            using Stream s = z.CreateEntry(innerName).Open();
            s.Write("MZ this program cannot be run in DOS mode"u8);
        });
        for (int i = 1; i < depth; i++)
        {
            byte[] inner = current;
            current = Zip(z =>
            {
                using Stream s = z.CreateEntry($"level{i}.zip").Open();
                s.Write(inner);
            });
        }
        return current;
    }
}
