namespace Gpuckpt.Actors.Migration;

/// <summary>
/// A stream read through a buffer of its own and written straight through: under TLS on the data port, one receive
/// takes whatever has arrived, up to the buffer, instead of one TLS record (16 KiB) at a time. Each receive is a
/// syscall, and a GiB of frames is some 65,000 records.
/// </summary>
internal sealed class ReadAheadStream(Stream inner, int size) : Stream
{
    private readonly byte[] _buffer = new byte[size];
    private int _start, _end;

    public override bool CanRead => true;
    public override bool CanWrite => inner.CanWrite;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancel = default)
    {
        if (destination.IsEmpty) return 0;
        if (_start == _end)
        {
            // A read as large as the buffer goes straight into the caller's memory.
            if (destination.Length >= _buffer.Length) return await inner.ReadAsync(destination, cancel).ConfigureAwait(false);
            _start = 0;
            _end = await inner.ReadAsync(_buffer, cancel).ConfigureAwait(false);
            if (_end == 0) return 0;
        }
        var n = Math.Min(destination.Length, _end - _start);
        _buffer.AsMemory(_start, n).CopyTo(destination);
        _start += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancel) =>
        ReadAsync(buffer.AsMemory(offset, count), cancel).AsTask();

    public override int Read(byte[] buffer, int offset, int count)
    {
        if (count == 0) return 0;
        if (_start == _end)
        {
            if (count >= _buffer.Length) return inner.Read(buffer, offset, count);
            _start = 0;
            _end = inner.Read(_buffer, 0, _buffer.Length);
            if (_end == 0) return 0;
        }
        var n = Math.Min(count, _end - _start);
        _buffer.AsSpan(_start, n).CopyTo(buffer.AsSpan(offset, n));
        _start += n;
        return n;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancel = default) => inner.WriteAsync(source, cancel);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancel) => inner.WriteAsync(buffer, offset, count, cancel);

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancel) => inner.FlushAsync(cancel);

    public override void Flush() => inner.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
