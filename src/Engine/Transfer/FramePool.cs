namespace Gpuckpt.Engine.Transfer;

/// <summary>
/// Frame arrays kept for reuse, by exact length (a frame travels as a whole array, so its length is its size). A
/// migration of large BOs moves thousands of frames of the same few sizes (a full frame's payload plus a file name's
/// header): reusing their arrays spares allocating, zeroing and faulting in a fresh megabyte for each. Bounded whatever
/// comes through: arrays under <see cref="MinLength"/> are not kept, at most <see cref="PerLength"/> of a length, and
/// when a return would hold more than <see cref="MaxLengths"/> lengths or <see cref="MaxBytes"/> in all, everything held
/// is let go first (the sizes now coming through replace the old ones). An array must not be used once returned.
/// </summary>
public sealed class FramePool
{
    public const int MinLength = 64 * 1024;
    public const int PerLength = 32;
    public const int MaxLengths = 8;
    public const long MaxBytes = 64L << 20;
    private readonly Dictionary<int, Stack<byte[]>> _free = [];
    private readonly Lock _gate = new();
    private long _bytes;

    /// <summary>One pool per process: senders and receivers of every migration share it.</summary>
    public static FramePool Shared { get; } = new();

    /// <summary>Bytes held for reuse now.</summary>
    public long Bytes
    {
        get
        {
            lock (_gate) return _bytes;
        }
    }

    /// <summary>An array of exactly <paramref name="length"/> bytes, whose contents are whatever it held before.</summary>
    public byte[] Rent(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length >= MinLength)
            lock (_gate)
                if (_free.TryGetValue(length, out var stack) && stack.TryPop(out var array))
                {
                    _bytes -= array.Length;
                    return array;
                }
        return new byte[length];
    }

    public void Return(byte[] array)
    {
        if (array.Length < MinLength) return;
        lock (_gate)
        {
            if (!_free.TryGetValue(array.Length, out var stack))
            {
                if (_free.Count >= MaxLengths) Clear();
                _free[array.Length] = stack = new Stack<byte[]>();
            }
            if (stack.Count >= PerLength) return;
            if (_bytes + array.Length > MaxBytes)
            {
                Clear();
                _free[array.Length] = stack;
            }
            stack.Push(array);
            _bytes += array.Length;
        }
    }

    private void Clear()
    {
        foreach (var stack in _free.Values) stack.Clear();
        _free.Clear();
        _bytes = 0;
    }
}
