using System.Text.Json;

namespace Gpuckpt.Engine.Bridge;

/// <summary>
/// The GPU files of a CRIU dump by CRIU's file id (<c>gpu-files.json</c> beside CRIU's images, covered by process.json):
/// at restore, RESTORE_EXT_FILE names only the id, and the engine answers with the task's file that id was.
/// </summary>
public static class BridgeGpuFiles
{
    public const string FileName = "gpu-files.json";

    public static void Store(string imagesDir, IReadOnlyList<BridgeGpuFile> files)
    {
        var path = Path.Combine(imagesDir, FileName);
        var tmp = path + ".tmp";
        using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            JsonSerializer.Serialize(stream, files, Images.ManifestCodec.Json);
            stream.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>The files of <paramref name="imagesDir"/>'s dump; none when it saved no GPU file.</summary>
    public static IReadOnlyList<BridgeGpuFile> Load(string imagesDir)
    {
        var path = Path.Combine(imagesDir, FileName);
        if (!File.Exists(path)) return [];
        try
        {
            return JsonSerializer.Deserialize<List<BridgeGpuFile>>(File.ReadAllBytes(path), Images.ManifestCodec.Json)
                   ?? throw new Images.ImageException(FileName, null, "empty");
        }
        catch (JsonException e)
        {
            throw new Images.ImageException(FileName, null, $"not a list of GPU files: {e.Message}");
        }
    }
}
