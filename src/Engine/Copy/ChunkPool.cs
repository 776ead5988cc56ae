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

    /// <summary>
    /// One buffer, out of the pool until its owner and every <see cref="Hold"/> taken on it have let go: an I/O task
    /// still writing into it keeps it from the next renter, however early its owner gives it back.
    /// </summary>
    public sealed class Lease : IDisposable
    {
        private readonly ChunkPool _pool;
        private int _holds = 1;
        private int _ownerDone;

        internal Lease(ChunkPool pool, Memory<byte> buffer)
        {
            _pool = pool;
            Buffer = buffer;
        }

        /// <summary><see cref="ChunkSize"/> bytes, pinned.</summary>
        public Memory<byte> Buffer { get; }

        /// <summary>Whether the buffer is back in the pool (no hold can be taken any more).</summary>
        public bool Returned => Volatile.Read(ref _holds) == 0;

        /// <summary>A user of the buffer besides its owner (an I/O task); null once the buffer went back to the pool.</summary>
        public IDisposable? Hold()
        {
            var holds = Volatile.Read(ref _holds);
            while (holds > 0)
            {
                var seen = Interlocked.CompareExchange(ref _holds, holds + 1, holds);
                if (seen == holds) return new BufferHold(this);
                holds = seen;
            }
            return null;
        }

        /// <summary>The owner lets go (once); the buffer goes back when the last hold is let go too.</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _ownerDone, 1) == 0) Drop();
        }

        private void Drop()
        {
            if (Interlocked.Decrement(ref _holds) == 0) _pool.Return(Buffer);
        }

        private sealed class BufferHold(Lease lease) : IDisposable
        {
            private Lease? _lease = lease;

            public void Dispose() => Interlocked.Exchange(ref _lease, null)?.Drop();
        }
    }
}
