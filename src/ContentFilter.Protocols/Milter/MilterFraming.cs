using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace ContentFilter.Protocols.Milter;

/// <summary>Low-level framing shared by the reply and command writers: length prefix (counts the code), code, data.</summary>
internal static class MilterFraming
{
    public static void Write(IBufferWriter<byte> output, byte code, ReadOnlySpan<byte> data)
    {
        Span<byte> span = output.GetSpan(5);
        BinaryPrimitives.WriteUInt32BigEndian(span, checked((uint)data.Length + 1));
        span[4] = code;
        output.Advance(5);
        output.Write(data);
    }
}

/// <summary>Builds one packet's data in a growable buffer, then frames it.</summary>
internal sealed class MilterPacketBuilder
{
    private readonly ArrayBufferWriter<byte> _data = new(256);

    public MilterPacketBuilder UInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_data.GetSpan(4), value);
        _data.Advance(4);
        return this;
    }

    public MilterPacketBuilder UInt16(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(_data.GetSpan(2), value);
        _data.Advance(2);
        return this;
    }

    public MilterPacketBuilder Byte(byte value)
    {
        _data.GetSpan(1)[0] = value;
        _data.Advance(1);
        return this;
    }

    /// <summary>A string and its NUL. A NUL inside would split the field, so it is refused.</summary>
    public MilterPacketBuilder String(string value)
    {
        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("A milter string field cannot contain NUL.", nameof(value));
        }
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        int n = Encoding.UTF8.GetBytes(value, _data.GetSpan(max));
        _data.Advance(n);
        return Byte(0);
    }

    /// <summary>Raw bytes and a NUL.</summary>
    public MilterPacketBuilder CString(ReadOnlySpan<byte> value)
    {
        if (value.Contains((byte)0))
        {
            throw new ArgumentException("A milter string field cannot contain NUL.", nameof(value));
        }
        _data.Write(value);
        return Byte(0);
    }

    public MilterPacketBuilder Raw(ReadOnlySpan<byte> value)
    {
        _data.Write(value);
        return this;
    }

    public void WriteTo(IBufferWriter<byte> output, byte code) => MilterFraming.Write(output, code, _data.WrittenSpan);
}
