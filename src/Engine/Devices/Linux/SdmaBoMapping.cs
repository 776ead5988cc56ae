namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>A BO reached through the copy engine: imported into the engine's VM at <c>va</c>, read and written a staging buffer at a time.</summary>
internal sealed class SdmaBoMapping(SdmaEngine engine, uint handle, ulong va, ulong length, ulong size, bool writable, string bo) : IBoMapping
{
    private int _disposed;

    public ulong Size { get; } = size;

    public void Read(ulong offset, Span<byte> destination)
    {
        CheckRange(offset, (ulong)destination.Length);
        engine.Read(handle, va, offset, destination, bo);
    }

    public void Write(ulong offset, ReadOnlySpan<byte> source)
    {
        if (!writable) throw new InvalidOperationException($"{bo} was opened for reading");
        CheckRange(offset, (ulong)source.Length);
        engine.Write(handle, va, offset, source, bo);
    }

    private void CheckRange(ulong offset, ulong length)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (offset > Size || length > Size - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"[{offset}, +{length}) is outside {bo} of {Size} bytes");
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) engine.Unmap(handle, va, length, bo);
    }
}
