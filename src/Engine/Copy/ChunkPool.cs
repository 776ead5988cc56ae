namespace Gpuckpt.Engine.Copy;

/// <summary>
/// A fixed set of equal-size buffers shared by every copy of a job: the engine's memory for BO contents is
/// <see cref="Capacity"/> × <see cref="ChunkSize"/> whatever the number and size of the BOs. Each buffer starts
/// <see cref="Images.LengthPrefix.Size"/> bytes past a 4 KiB boundary of memory, as every chunk starts past a block
/// boundary of its page file (behind the file's length prefix): the whole blocks of a chunk then lie aligned in memory
/// too, and go to the disk with O_DIRECT straight from the buffer.
/// </summary>
public sealed class ChunkPool : IDisposable
{
    private readonly SemaphoreSlim _available;
    private readonly Stack<Memory<byte>> _free = new();
    private readonly object _gate = new();
    private int _rented;
    private int _peakRented;

    public ChunkPool(int chunkSize, int capacity)
    {
        if (chunkSize <= 0 || chunkSize % 4096 != 0) throw new ArgumentOutOfRangeException(nameof(chunkSize), "a positive multiple of 4096");
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity));
        ChunkSize = chunkSize;
        Capacity = capacity;
        _available = new SemaphoreSlim(capacity, capacity);
        for (var i = 0; i < capacity; i++) _free.Push(Allocate(chunkSize));
    }

    /// <summary>A pinned buffer (it never moves) whose first byte lies <see cref="Images.LengthPrefix.Size"/> bytes past a 4 KiB boundary.</summary>
    private static unsafe Memory<byte> Allocate(int chunkSize)
    {
        const int Page = 4096;
        var array = GC.AllocateUninitializedArray<byte>(chunkSize + Page, pinned: true);
        fixed (byte* p = array)
        {
            var skip = (int)((Images.LengthPrefix.Size - (long)p % Page + Page) % Page);
            return new Memory<byte>(array, skip, chunkSize);
        }
    }

    public int ChunkSize { get; }
    public int Capacity { get; }
    public long Bytes => (long)ChunkSize * Capacity;

    /// <summary>Buffers free to rent right now.</summary>
    public int Free => _available.CurrentCount;

    /// <summary>The most buffers that were out at once: proof that the bound held.</summary>
    public int PeakRented { get { lock (_gate) return _peakRented; } }

    /// <summary>Waits for a free buffer; dispose the lease to give it back.</summary>
    public async ValueTask<Lease> RentAsync(CancellationToken ct = default)
    {
        await _available.WaitAsync(ct).ConfigureAwait(false);
        lock (_gate)
        {
            _rented++;
            _peakRented = Math.Max(_peakRented, _rented);
            return new Lease(this, _free.Pop());
        }
    }

    private void Return(Memory<byte> buffer)
    {
        lock (_gate)
        {
            _rented--;
            _free.Push(buffer);
        }
        _available.Release();
    }

    public void Dispose() => _available.Dispose();

    public sealed class Lease : IDisposable
    {
        private ChunkPool? _pool;

        internal Lease(ChunkPool pool, Memory<byte> buffer)
        {
            _pool = pool;
            Buffer = buffer;
        }

        /// <summary><see cref="ChunkSize"/> bytes, pinned.</summary>
        public Memory<byte> Buffer { get; }

        public void Dispose() => Interlocked.Exchange(ref _pool, null)?.Return(Buffer);
    }
}
