using System.Buffers;
using ContentFilter.Protocols.Milter;
using ContentFilter.Protocols.Tests.Smtp;

namespace ContentFilter.Protocols.Tests.Milter;

/// <summary>Builds packets and multi-segment sequences for the milter codec tests.</summary>
internal static class MilterTestBytes
{
    public static byte[] Encode(MilterCommand command)
    {
        var w = new ArrayBufferWriter<byte>();
        MilterCommandWriter.Write(command, w);
        return w.WrittenSpan.ToArray();
    }

    public static byte[] Encode(MilterReply reply)
    {
        var w = new ArrayBufferWriter<byte>();
        MilterReplyWriter.Write(reply, w);
        return w.WrittenSpan.ToArray();
    }

    public static byte[] Packet(char code, params byte[] data)
    {
        var bytes = new byte[5 + data.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)data.Length + 1);
        bytes[4] = (byte)code;
        data.CopyTo(bytes, 5);
        return bytes;
    }

    public static byte[] Z(string s) => System.Text.Encoding.UTF8.GetBytes(s + "\0");

    public static byte[] Cat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>A sequence whose segments break at the given offsets.</summary>
    public static ReadOnlySequence<byte> Split(byte[] bytes, params int[] cuts) => Sequences.Of(Sequences.Cut(bytes, cuts));

    /// <summary>Every byte its own segment.</summary>
    public static ReadOnlySequence<byte> Bytewise(byte[] bytes) => Split(bytes, Enumerable.Range(1, Math.Max(0, bytes.Length - 1)).ToArray());
}
