using System.Security.Cryptography;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// The hash of one leaf of a file's digest (<see cref="FileDigest"/>), as the image's format defines it: SHA-256 in
/// format 2, BLAKE3 (32 bytes of output) from format 3 on. Every byte of an image is hashed this way on its checkpoint
/// and again on its restore, verify or migration; BLAKE3 hashes 64 KiB leaves several times faster than SHA-256 on the
/// same core. The root over the leaves stays SHA-256 in every format.
/// </summary>
public abstract class LeafHash
{
    /// <summary>The first format whose leaves are BLAKE3.</summary>
    public const int Blake3Format = 3;

    public static readonly LeafHash Sha256 = new Sha256Leaves();
    public static readonly LeafHash Blake3 = new Blake3Leaves();

    /// <summary>The leaf hash of an image of <paramref name="formatVersion"/> (format 1 has no leaves; its files are hashed whole).</summary>
    public static LeafHash Of(int formatVersion) => formatVersion >= Blake3Format ? Blake3 : Sha256;

    /// <summary>The leaf hash of the images this build writes.</summary>
    public static LeafHash Current => Of(ImageManifest.CurrentFormatVersion);

    /// <summary>Hashes <paramref name="data"/> into the <see cref="FileDigest.HashSize"/> bytes of <paramref name="hash"/>.</summary>
    public abstract void Hash(ReadOnlySpan<byte> data, Span<byte> hash);

    /// <summary>A hash fed in pieces: <see cref="IncrementalLeaf.Append"/>, then <see cref="IncrementalLeaf.Cut"/> once per leaf.</summary>
    public abstract IncrementalLeaf Incremental();

    /// <summary>One leaf's hash fed in pieces, reset by each <see cref="Cut"/>.</summary>
    public abstract class IncrementalLeaf : IDisposable
    {
        public abstract void Append(ReadOnlySpan<byte> data);

        /// <summary>Writes the hash of what was appended since the last cut, and starts the next leaf.</summary>
        public abstract void Cut(Span<byte> hash);

        public abstract void Dispose();
    }

    private sealed class Sha256Leaves : LeafHash
    {
        public override string ToString() => "SHA-256";

        public override void Hash(ReadOnlySpan<byte> data, Span<byte> hash) => SHA256.HashData(data, hash);

        public override IncrementalLeaf Incremental() => new Pieces();

        private sealed class Pieces : IncrementalLeaf
        {
            private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

            public override void Append(ReadOnlySpan<byte> data) => _sha.AppendData(data);

            public override void Cut(Span<byte> hash)
            {
                if (!_sha.TryGetHashAndReset(hash, out var written) || written != FileDigest.HashSize)
                    throw new InvalidOperationException("a SHA-256 is 32 bytes");
            }

            public override void Dispose() => _sha.Dispose();
        }
    }

    private sealed class Blake3Leaves : LeafHash
    {
        public override string ToString() => "BLAKE3";

        public override void Hash(ReadOnlySpan<byte> data, Span<byte> hash) => global::Blake3.Hasher.Hash(data, hash[..FileDigest.HashSize]);

        public override IncrementalLeaf Incremental() => new Pieces();

        private sealed class Pieces : IncrementalLeaf
        {
            private readonly global::Blake3.Hasher _hasher = global::Blake3.Hasher.New();

            public override void Append(ReadOnlySpan<byte> data) => _hasher.Update(data);

            public override void Cut(Span<byte> hash)
            {
                _hasher.Finalize(hash[..FileDigest.HashSize]);
                _hasher.Reset();
            }

            public override void Dispose() => _hasher.Dispose();
        }
    }
}
