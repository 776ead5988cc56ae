namespace Gpuckpt.Engine.Transfer;

/// <summary>
/// The files of a whole-process image directory as they travel between nodes: listed with their sizes (CRIU's files,
/// process.json, gpu/ and its files; not CRIU's logs), read in pieces, and written on the other side only under the
/// directory they belong to.
/// </summary>
public static class WholeProcessImageFiles
{
    /// <summary>Every file under <paramref name="dir"/> but logs, by path relative to it ('/'-separated), with its size; in a fixed order.</summary>
    public static IReadOnlyList<(string Name, long Size)> List(string dir) =>
        [.. Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .Where(p => !p.EndsWith(".log", StringComparison.Ordinal))
            .Select(p => (Path.GetRelativePath(dir, p).Replace(Path.DirectorySeparatorChar, '/'), new FileInfo(p).Length))
            .OrderBy(f => f.Item1, StringComparer.Ordinal)];

    /// <summary>Up to <paramref name="length"/> bytes of <paramref name="name"/> from <paramref name="offset"/>.</summary>
    public static byte[] Read(string dir, string name, long offset, int length)
    {
        using var handle = File.OpenHandle(PathOf(dir, name), FileMode.Open, FileAccess.Read);
        var size = RandomAccess.GetLength(handle);
        var buffer = new byte[(int)Math.Clamp(size - offset, 0, length)];
        var done = 0;
        while (done < buffer.Length)
        {
            var n = RandomAccess.Read(handle, buffer.AsSpan(done), offset + done);
            if (n == 0) throw new IOException($"{name} ended at offset {offset + done} while it was sent: it changed under the migration");
            done += n;
        }
        return buffer;
    }

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/> of <paramref name="name"/> (created, with its folder, at offset 0); fsynced when <paramref name="last"/>.</summary>
    public static void Write(string dir, string name, long offset, ReadOnlySpan<byte> data, bool last)
    {
        var path = PathOf(dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var handle = File.OpenHandle(path, offset == 0 ? FileMode.Create : FileMode.Open, FileAccess.Write);
        if (RandomAccess.GetLength(handle) != offset)
            throw new IOException($"{name}: a piece for offset {offset} arrived, the file holds {RandomAccess.GetLength(handle)} bytes");
        RandomAccess.Write(handle, data, offset);
        if (last) RandomAccess.FlushToDisk(handle);
    }

    /// <summary>The path of <paramref name="name"/> under <paramref name="dir"/>; a name that is absolute, empty or climbs out is refused.</summary>
    public static string PathOf(string dir, string name)
    {
        var parts = name.Split('/');
        if (name.Length == 0 || name.StartsWith('/') || parts.Any(p => p is "" or "." or ".." || p.Contains('\\') || p.Contains('\0')))
            throw new InvalidDataException($"\"{name}\" is not a file name inside a whole-process image");
        return Path.Combine([dir, .. parts]);
    }
}
