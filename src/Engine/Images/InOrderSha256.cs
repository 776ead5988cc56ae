using System.Buffers;
using System.Security.Cryptography;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// The SHA-256 of a file written in pieces from many threads, taken from the pieces as they are written, so that a
/// commit signs the file without reading it back. SHA-256 is sequential: a piece that arrives before its predecessors
/// waits in a copy (at most <see cref="MaxAhead"/> bytes); a place written twice, or more waiting than that, gives up,
/// and the file is then read back as before (<see cref="Finish"/> answers null). Thread-safe.
/// </summary>
internal sealed class InOrderSha256 : IDisposable
{
    /// <summary>Bytes held out of order before the hash gives up: pieces are written nearly in order, a few at a time.</summary>
    internal const long MaxAhead = 64L << 20;

    private static readonly byte[] Zeros = new byte[1 << 20];

    private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly SortedDictionary<long, (byte[] Bytes, int Length)> _ahead = [];
    private readonly Lock _gate = new();
    private long _next, _aheadBytes;
    private bool _broken;

    /// <summary>The bytes at file offset <paramref name="offset"/>.</summary>
    public void Add(long offset, ReadOnlySpan<byte> data)
    {
        lock (_gate)
        {
            if (_broken || data.IsEmpty) return;
            if (offset < _next || _ahead.ContainsKey(offset))
            {
                // Written twice (a place rewritten with other bytes): what the file holds is read back at commit.
                Break();
                return;
            }
            if (offset > _next)
            {
                if (_aheadBytes + data.Length > MaxAhead)
                {
                    Break();
                    return;
                }
                var copy = ArrayPool<byte>.Shared.Rent(data.Length);
                data.CopyTo(copy);
                _ahead.Add(offset, (copy, data.Length));
                _aheadBytes += data.Length;
                return;
            }
            Append(data);
            Drain();
        }
    }

    /// <summary><paramref name="length"/> zero bytes at file offset <paramref name="offset"/> (a hole the file reads as zeros).</summary>
    public void AddZeros(long offset, int length)
    {
        lock (_gate)
        {
            if (_broken || length == 0) return;
            if (offset != _next)
            {
                // Rare (a piece referenced in a parent image, out of order): not worth holding zeros for.
                Break();
                return;
            }
            for (var left = length; left > 0; left -= Zeros.Length) Append(Zeros.AsSpan(0, Math.Min(left, Zeros.Length)));
            Drain();
        }
    }

    /// <summary>The file's SHA-256 (lower-case hex) if every byte of its <paramref name="length"/> was added once, in any order; else null.</summary>
    public string? Finish(long length)
    {
        lock (_gate)
        {
            if (_broken || _ahead.Count > 0 || _next != length) return null;
            _broken = true; // one answer: a later Add changes nothing
            return Convert.ToHexStringLower(_sha.GetHashAndReset());
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            Break();
            _sha.Dispose();
        }
    }

    private void Append(ReadOnlySpan<byte> data)
    {
        _sha.AppendData(data);
        _next += data.Length;
    }

    private void Drain()
    {
        while (_ahead.Count > 0)
        {
            var (offset, (bytes, length)) = _ahead.First();
            if (offset > _next) return;
            _ahead.Remove(offset);
            _aheadBytes -= length;
            if (offset < _next)
            {
                ArrayPool<byte>.Shared.Return(bytes);
                Break();
                return;
            }
            Append(bytes.AsSpan(0, length));
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    private void Break()
    {
        _broken = true;
        foreach (var (bytes, _) in _ahead.Values) ArrayPool<byte>.Shared.Return(bytes);
        _ahead.Clear();
        _aheadBytes = 0;
    }
}
