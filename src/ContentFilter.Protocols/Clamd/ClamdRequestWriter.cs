using System.Buffers;
using System.Buffers.Binary;

namespace ContentFilter.Protocols.Clamd;

/// <summary>Writes clamd requests: the NUL-terminated command and the INSTREAM chunk framing (clamd(8) INSTREAM).</summary>
/// <remarks>
/// A chunk is <c>uint32 big-endian length</c> followed by that many bytes; a zero length ends the stream. clamd
/// fixes no chunk size but checks each length against what is left of its StreamMaxLength quota, so the caller
/// picks one (64 KiB from a reused buffer) and need not care about the quota here.
/// </remarks>
public static class ClamdRequestWriter
{
    /// <summary>Bytes of a chunk length prefix.</summary>
    public const int ChunkHeaderLength = 4;

    /// <summary>The chunk that ends an INSTREAM upload: a zero length.</summary>
    public static ReadOnlySpan<byte> EndOfStream => [0, 0, 0, 0];

    /// <summary>The wire form of <paramref name="command"/>, including the <c>z</c> prefix and NUL terminator.</summary>
    public static ReadOnlySpan<byte> CommandBytes(ClamdCommand command) => command switch
    {
        ClamdCommand.Ping => "zPING\0"u8,
        ClamdCommand.Version => "zVERSION\0"u8,
        ClamdCommand.Instream => "zINSTREAM\0"u8,
        _ => throw new ArgumentOutOfRangeException(nameof(command)),
    };

    /// <summary>Writes <paramref name="command"/> in its <c>z</c> form.</summary>
    public static void Write(ClamdCommand command, IBufferWriter<byte> output) => output.Write(CommandBytes(command));

    /// <summary>Writes the 4-byte big-endian length prefix of a chunk into <paramref name="destination"/>.</summary>
    /// <remarks>Callers reserve 4 bytes in front of their read buffer so prefix and data leave in one send.</remarks>
    public static void WriteChunkHeader(int length, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)length);
    }

    /// <summary>Writes one whole chunk (prefix and data). A zero-length chunk would end the stream, so it is refused.</summary>
    public static void WriteChunk(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        if (data.IsEmpty)
        {
            throw new ArgumentException("An empty chunk ends the stream; use EndOfStream.", nameof(data));
        }
        Span<byte> header = output.GetSpan(ChunkHeaderLength);
        WriteChunkHeader(data.Length, header);
        output.Advance(ChunkHeaderLength);
        output.Write(data);
    }
}
