using System.Security.Cryptography;
using Gpuckpt.Engine.Native;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// A node's key for signing image manifests (HMAC-SHA256): 32 random bytes, kept as 64 hex digits in a file only its
/// owner can read (0600; a key file others can read is refused). <see cref="Id"/> names it in a signature without
/// revealing it.
/// </summary>
public sealed class ImageKey
{
    private readonly byte[] _key;

    private ImageKey(byte[] key)
    {
        _key = key;
        Id = Convert.ToHexStringLower(SHA256.HashData(key))[..16];
    }

    public string Id { get; }

    public byte[] Mac(ReadOnlySpan<byte> data) => HMACSHA256.HashData(_key, data);

    public static ImageKey Parse(string hex, string source)
    {
        var text = hex.Trim();
        if (text.Length != 64 || !text.All(Uri.IsHexDigit))
            throw new InvalidDataException($"{source}: an image key is 64 hex digits (32 bytes)");
        return new ImageKey(Convert.FromHexString(text));
    }

    /// <summary>Reads a key file, refusing one that group or others may read.</summary>
    public static ImageKey Load(string path)
    {
        var stat = Libc.StatPath(path) ?? throw new FileNotFoundException($"{path}: no such image key file", path);
        if ((stat.Mode & Libc.S_IFMT) != Libc.S_IFREG) throw new InvalidDataException($"{path}: an image key must be a regular file");
        if ((stat.Mode & 0x3f) != 0)
            throw new InvalidDataException($"{path}: the image key is readable by others (mode 0{Convert.ToString(stat.Mode & 0x1ff, 8)}); chmod 600 it");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Loads the key at <paramref name="path"/>, first creating it (0600, fresh random bytes) if there is none.</summary>
    public static ImageKey LoadOrCreate(string path)
    {
        if (Libc.StatPath(path) is null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            var key = RandomNumberGenerator.GetBytes(32);
            // Written whole under a name of its own, then linked into place: an engine starting at the same moment sees
            // either no key or a whole one, never a file still being written.
            var fresh = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}";
            try
            {
                using (var handle = ImageFiles.OpenWrite(fresh, FileMode.CreateNew, FileAccess.Write))
                {
                    RandomAccess.Write(handle, System.Text.Encoding.ASCII.GetBytes(Convert.ToHexStringLower(key) + "\n"), 0);
                    FileSync.File(handle, fresh);
                }
                // link(2) never replaces a file: of engines making the key at once, the first to link wins, the others use it.
                if (Libc.Link(fresh, path) != 0 && Libc.LastErrno != Devices.Errno.EEXIST)
                    throw new IOException($"{path}: link failed: {Devices.Errno.Name(Libc.LastErrno)}");
            }
            finally
            {
                File.Delete(fresh);
            }
        }
        return Load(path);
    }
}
