using System.Buffers;

namespace ContentFilter.Protocols.Milter;

/// <summary>The milter framing both directions share: <c>uint32 length (big-endian, counts the code byte) | code | data</c>.</summary>
/// <remarks>
/// The length is checked against the cap before anything is allocated, and a zero length is an error before the
/// code byte is ever read (the two mistakes STYLE.md §1 records in other milter libraries).
/// </remarks>
internal static class MilterFrame
{
    /// <summary>Reads one whole frame from <paramref name="probe"/> (advanced past it on success).</summary>
    /// <returns><c>true</c> with the frame; <c>false</c> with <see cref="MilterError.None"/> = need more bytes.</returns>
    public static bool TryRead(ref SequenceReader<byte> probe, int maxPacketSize, out byte code, out byte[] data, out MilterError error)
    {
        data = Array.Empty<byte>();
        if (!TryRead(ref probe, maxPacketSize, out code, out ReadOnlySequence<byte> slice, out error))
        {
            return false;
        }
        if (slice.Length > 0)
        {
            // Every byte is overwritten at once: no need to zero a body chunk of up to the packet cap first.
            data = GC.AllocateUninitializedArray<byte>((int)slice.Length);
            slice.CopyTo(data);
        }
        return true;
    }

    /// <summary>
    /// Reads one whole frame without copying it: <paramref name="data"/> points into the input and stays valid only
    /// until the input's owner advances past it.
    /// </summary>
    /// <returns><c>true</c> with the frame; <c>false</c> with <see cref="MilterError.None"/> = need more bytes.</returns>
    public static bool TryRead(ref SequenceReader<byte> probe, int maxPacketSize, out byte code, out ReadOnlySequence<byte> data, out MilterError error)
    {
        code = 0;
        data = ReadOnlySequence<byte>.Empty;
        error = MilterError.None;
        if (!probe.TryReadBigEndian(out int length))
        {
            return false;
        }
        uint size = unchecked((uint)length);
        if (size == 0)
        {
            error = MilterError.ZeroLength;
            return false;
        }
        if (size > (uint)maxPacketSize)
        {
            error = MilterError.TooLong;
            return false;
        }
        if (probe.Remaining < size)
        {
            return false;
        }
        probe.TryRead(out code);
        data = probe.UnreadSequence.Slice(0, size - 1);
        probe.Advance(size - 1);
        return true;
    }
}
