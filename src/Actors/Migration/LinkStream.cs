namespace Gpuckpt.Actors.Migration;

/// <summary>
/// The data port's socket under TLS, buffered both ways. TLS cuts a frame into records of 16 KiB, and a GiB of frames
/// is some 65,000 of them; each would be a syscall of its own.
/// <list type="bullet">
/// <item>Reads go through a buffer of <paramref name="readAhead"/> bytes: one receive takes whatever has arrived.</item>
/// <item>Writes go straight through until <see cref="HoldWrites"/> (after the handshake, whose messages must leave as
/// they are written): from then on they are held, up to the buffer, and sent together on <see cref="FlushAsync"/> or
/// when the buffer is full. The writer flushes when it has nothing more to write.</item>
/// </list>
/// Reads and writes keep separate state, so one task may read while another writes.
/// </summary>
internal sealed class LinkStream(Stream inner, int readAhead) : Stream
{
    private readonly byte[] _read = new byte[readAhead];
    private int _start, _end;
    private byte[]? _held;
    private int _heldCount;

    public override bool CanRead => true;
    public override bool CanWrite => inner.CanWrite;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>From now on, writes are held up to <paramref name="size"/> bytes and sent together.</summary>
    public void HoldWrites(int size) => _held = new byte[size];

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancel = default)
    {
        if (destination.IsEmpty) return 0;
        if (_start == _end)
        {
            // A read as large as the buffer goes straight into the caller's memory.
            if (destination.Length >= _read.Length) return await inner.ReadAsync(destination, cancel).ConfigureAwait(false);
            _start = 0;
            _end = await inner.ReadAsync(_read, cancel).ConfigureAwait(false);
            if (_end == 0) return 0;
        }
        var n = Math.Min(destination.Length, _end - _start);
        _read.AsMemory(_start, n).CopyTo(destination);
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
            if (count >= _read.Length) return inner.Read(buffer, offset, count);
            _start = 0;
            _end = inner.Read(_read, 0, _read.Length);
            if (_end == 0) return 0;
        }
        var n = Math.Min(count, _end - _start);
        _read.AsSpan(_start, n).CopyTo(buffer.AsSpan(offset, n));
        _start += n;
        return n;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancel = default)
    {
        if (_held is null)
        {
            await inner.WriteAsync(source, cancel).ConfigureAwait(false);
            return;
        }
        while (!source.IsEmpty)
        {
            if (_heldCount == _held.Length) await SendHeld(cancel).ConfigureAwait(false);
            var n = Math.Min(source.Length, _held.Length - _heldCount);
            source[..n].CopyTo(_held.AsMemory(_heldCount));
            _heldCount += n;
            source = source[n..];
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancel) =>
        WriteAsync(buffer.AsMemory(offset, count), cancel).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        if (_held is null)
        {
            inner.Write(buffer, offset, count);
            return;
        }
        while (count > 0)
        {
            if (_heldCount == _held.Length) SendHeldNow();
            var n = Math.Min(count, _held.Length - _heldCount);
            buffer.AsSpan(offset, n).CopyTo(_held.AsSpan(_heldCount));
            _heldCount += n;
            offset += n;
            count -= n;
        }
    }

    public override async Task FlushAsync(CancellationToken cancel)
    {
        await SendHeld(cancel).ConfigureAwait(false);
        await inner.FlushAsync(cancel).ConfigureAwait(false);
    }

    public override void Flush()
    {
        SendHeldNow();
        inner.Flush();
    }

    private async ValueTask SendHeld(CancellationToken cancel)
    {
        if (_heldCount == 0) return;
        var n = _heldCount;
        _heldCount = 0;
        await inner.WriteAsync(_held!.AsMemory(0, n), cancel).ConfigureAwait(false);
    }

    private void SendHeldNow()
    {
        if (_heldCount == 0) return;
        var n = _heldCount;
        _heldCount = 0;
        inner.Write(_held!, 0, n);
    }

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
