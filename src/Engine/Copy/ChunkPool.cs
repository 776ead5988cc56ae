namespace Gpuckpt.Engine.Copy;

/// <summary>
/// A fixed set of equal-size buffers shared by every copy of a job: the engine's memory for BO contents is
/// <see cref="Capacity"/> × <see cref="ChunkSize"/> whatever the number and size of the BOs.
/// </summary>
public sealed class ChunkPool : IDisposable
{
    private readonly SemaphoreSlim _available;
    private readonly Stack<byte[]> _free = new();
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
        for (var i = 0; i < capacity; i++) _free.Push(GC.AllocateUninitializedArray<byte>(chunkSize, pinned: true));
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

    private void Return(byte[] buffer)
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

        internal Lease(ChunkPool pool, byte[] buffer)
        {
            _pool = pool;
            Buffer = buffer;
        }

        public byte[] Buffer { get; }

        public void Dispose() => Interlocked.Exchange(ref _pool, null)?.Return(Buffer);
    }
}
