using System.Collections.Concurrent;

namespace Gpuckpt.Engine.Transfer;

/// <summary>
/// Frame arrays kept for reuse, by exact length (a frame travels as a whole array, so its length is its size). A
/// migration moves thousands of frames of the same few sizes: reusing their arrays spares allocating, zeroing and
/// faulting in a fresh megabyte for each. At most <see cref="PerLength"/> arrays of a length are kept; the rest are
/// left to the collector. An array must not be used by anyone once returned.
/// </summary>
public sealed class FramePool
{
    public const int PerLength = 32;

    /// <summary>Smaller arrays (headers, metadata) are not kept: they cost little, and their sizes vary.</summary>
    public const int MinLength = 64 * 1024;
    private readonly ConcurrentDictionary<int, ConcurrentBag<byte[]>> _free = new();

    /// <summary>One pool per process: senders and receivers of every migration share it.</summary>
    public static FramePool Shared { get; } = new();

    /// <summary>An array of exactly <paramref name="length"/> bytes, whose contents are whatever it held before.</summary>
    public byte[] Rent(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length < MinLength) return new byte[length];
        return _free.TryGetValue(length, out var bag) && bag.TryTake(out var array) ? array : new byte[length];
    }

    public void Return(byte[] array)
    {
        if (array.Length < MinLength) return;
        var bag = _free.GetOrAdd(array.Length, static _ => []);
        if (bag.Count < PerLength) bag.Add(array);
    }
}
