using System.Globalization;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// The manifest of a whole-process checkpoint (<c>process.json</c>): CRIU's image files, each with its size and
/// xxHash64, and the GPU image beside them (its directory, image id and the xxHash64 of its manifest). Written only
/// once CRIU's dump and the GPU image both succeeded; verify checks CRIU's files and the GPU image in full. Like
/// manifest.json, its first line holds the xxHash64 of every byte after it.
/// </summary>
public sealed record ProcessManifest(int FormatVersion, uint Pid, string CriuVersion, DateTimeOffset Created, IReadOnlyList<ProcessManifestFile> Files,
    string? GpuImage, string? GpuImageId, string? GpuManifestXxh64)
{
    public const string FileName = "process.json";
    public const int CurrentFormatVersion = 1;
    private const string HashLinePrefix = "{\"manifest_xxh64\": \"";

    /// <summary>Lists and hashes CRIU's files in <paramref name="dir"/> (not its logs) and the GPU image in <paramref name="gpuDir"/>, writes and fsyncs the manifest.</summary>
    public static ProcessManifest Write(string dir, uint pid, string criuVersion, string? gpuDir)
    {
        var files = CriuFiles(dir).Select(path => new ProcessManifestFile(Path.GetFileName(path), new FileInfo(path).Length, Hash(path))).ToList();
        string? gpuId = null, gpuHash = null;
        if (gpuDir is not null)
        {
            gpuId = ManifestCodec.Load(Path.Combine(dir, gpuDir)).ImageId;
            gpuHash = Hash(Path.Combine(dir, gpuDir, ImageManifest.FileName));
        }
        var manifest = new ProcessManifest(CurrentFormatVersion, pid, criuVersion, DateTimeOffset.UtcNow, files, gpuDir, gpuId, gpuHash);
        var body = JsonSerializer.SerializeToUtf8Bytes(manifest, ManifestCodec.Json);
        // The body without its opening brace follows the hash line, so the whole file is one JSON object.
        var rest = body.AsSpan(1);
        var text = Encoding.UTF8.GetBytes($"{HashLinePrefix}{XxHash64.HashToUInt64(rest):x16}\",\n");
        var tmp = Path.Combine(dir, FileName + ".tmp");
        using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            stream.Write(text);
            stream.Write(rest);
            stream.Flush(flushToDisk: true);
        }
        File.Move(tmp, Path.Combine(dir, FileName), overwrite: true);
        FileSync.Directory(dir);
        return manifest;
    }

    /// <summary>Reads the manifest of <paramref name="dir"/>; throws <see cref="ImageException"/> when it is damaged.</summary>
    public static ProcessManifest Load(string dir)
    {
        var bytes = File.ReadAllBytes(Path.Combine(dir, FileName));
        var newline = Array.IndexOf(bytes, (byte)'\n');
        var first = newline < 0 ? "" : Encoding.UTF8.GetString(bytes, 0, newline);
        if (!first.StartsWith(HashLinePrefix, StringComparison.Ordinal) || first.Length != HashLinePrefix.Length + 18
            || !ulong.TryParse(first.AsSpan(HashLinePrefix.Length, 16), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var expected))
            throw new ImageException(FileName, 0, "the first line is not the manifest's checksum");
        var rest = bytes.AsSpan(newline + 1);
        if (XxHash64.HashToUInt64(rest) != expected) throw new ImageException(FileName, newline + 1, "the manifest's bytes do not match its checksum");
        var body = new byte[rest.Length + 1];
        body[0] = (byte)'{';
        rest.CopyTo(body.AsSpan(1));
        ProcessManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ProcessManifest>(body, ManifestCodec.Json);
        }
        catch (JsonException e)
        {
            throw new ImageException(FileName, null, $"not a whole-process manifest: {e.Message}");
        }
        if (manifest is null || manifest.Files is null) throw new ImageException(FileName, null, "not a whole-process manifest");
        if (manifest.FormatVersion != CurrentFormatVersion)
            throw new ImageException(FileName, null, $"format version {manifest.FormatVersion}: this gpuckpt reads {CurrentFormatVersion}");
        return manifest;
    }

    /// <summary>Re-reads every CRIU file and the whole GPU image: ok only when all are as the manifest says and no CRIU file is unlisted.</summary>
    public static VerifyResult Verify(string dir)
    {
        int files = 0;
        long bytes = 0;
        try
        {
            var manifest = Load(dir);
            var listed = new HashSet<string>(StringComparer.Ordinal);
            foreach (var f in manifest.Files)
            {
                if (f.Name.Contains('/') || f.Name is "." or ".." || !listed.Add(f.Name))
                    throw new ImageException(f.Name, null, "listed twice or not a file name");
                var path = Path.Combine(dir, f.Name);
                var info = new FileInfo(path);
                if (!info.Exists || info.LinkTarget is not null) throw new ImageException(f.Name, null, "missing (CRIU's image is incomplete)");
                if (info.Length != f.Size) throw new ImageException(f.Name, null, $"{info.Length} bytes, the manifest says {f.Size}");
                if (Hash(path) != f.Xxh64) throw new ImageException(f.Name, null, "its bytes changed since the checkpoint (xxh64 differs)");
                files++;
                bytes += f.Size;
            }
            foreach (var path in CriuFiles(dir))
                if (!listed.Contains(Path.GetFileName(path))) throw new ImageException(Path.GetFileName(path), null, "a CRIU file the manifest does not list");
            if (manifest.GpuImage is { } gpu)
            {
                var gpuDir = Path.Combine(dir, gpu);
                var result = ImageVerifier.Verify(gpuDir);
                if (!result.Ok) return result with { File = $"{gpu}/{result.File}", FilesChecked = files + result.FilesChecked, BytesChecked = bytes + result.BytesChecked };
                if (ManifestCodec.Load(gpuDir).ImageId != manifest.GpuImageId || Hash(Path.Combine(gpuDir, ImageManifest.FileName)) != manifest.GpuManifestXxh64)
                    throw new ImageException($"{gpu}/{ImageManifest.FileName}", null, "not the GPU image this checkpoint committed");
                return new VerifyResult(true, null, null, null, files + result.FilesChecked, result.SegmentsChecked, bytes + result.BytesChecked);
            }
            return new VerifyResult(true, null, null, null, files, 0, bytes);
        }
        catch (ImageException e)
        {
            return new VerifyResult(false, e.File, e.Offset, e.Reason, files, 0, bytes);
        }
        catch (IOException e)
        {
            return new VerifyResult(false, FileName, null, e.Message, files, 0, bytes);
        }
    }

    /// <summary>CRIU's files of an image directory: its regular files but logs, run statistics and this manifest, in name order.</summary>
    private static IEnumerable<string> CriuFiles(string dir) =>
        Directory.EnumerateFiles(dir)
            .Where(p => Path.GetFileName(p) is var n && n != FileName && n != FileName + ".tmp" && !n.EndsWith(".log", StringComparison.Ordinal)
                        && !n.StartsWith("stats-", StringComparison.Ordinal)) // each CRIU run writes its own statistics
            .Order(StringComparer.Ordinal);

    private static string Hash(string path)
    {
        var hash = new XxHash64();
        using var stream = File.OpenRead(path);
        hash.Append(stream);
        return hash.GetCurrentHashAsUInt64().ToString("x16", CultureInfo.InvariantCulture);
    }
}
