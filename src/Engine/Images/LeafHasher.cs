namespace Gpuckpt.Engine.Images;

/// <summary>
/// The leaves (<see cref="FileDigest"/>) of one segment whose bytes arrive in order, in pieces of any length: a read
/// through a bounded buffer, or an O_DIRECT read in stages.
/// </summary>
public sealed class LeafHasher : IDisposable
{
    private readonly LeafHash.IncrementalLeaf _leaf;
    private readonly byte[] _leaves;
    private readonly long _length;
    private long _done;
    private int _inLeaf;

    /// <param name="length">The segment's length: the bytes that must be appended before <see cref="Finish"/>.</param>
    /// <param name="hash">The leaves' hash, as the image's format defines it.</param>
    public LeafHasher(long length, LeafHash hash)
    {
        _length = length;
        _leaf = hash.Incremental();
        _leaves = new byte[FileDigest.LeafCount(length) * FileDigest.HashSize];
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        if (data.Length > _length - _done) throw new InvalidOperationException($"{_done + data.Length} bytes appended to a segment of {_length}");
        while (!data.IsEmpty)
        {
            var take = Math.Min(data.Length, FileDigest.LeafSize - _inLeaf);
            _leaf.Append(data[..take]);
            data = data[take..];
            _inLeaf += take;
            _done += take;
            if (_inLeaf == FileDigest.LeafSize || _done == _length) CutLeaf();
        }
    }

    /// <summary>The segment's leaves, once all of its bytes were appended.</summary>
    public byte[] Finish()
    {
        if (_done != _length) throw new InvalidOperationException($"{_done} bytes appended to a segment of {_length}");
        return _leaves;
    }

    public void Dispose() => _leaf.Dispose();

    private void CutLeaf()
    {
        var index = (int)((_done - 1) / FileDigest.LeafSize);
        _leaf.Cut(_leaves.AsSpan(index * FileDigest.HashSize, FileDigest.HashSize));
        _inLeaf = 0;
    }
}
