using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// manifest.json: what the CRIU files do not say. The image's identity, where it came from, the source topology,
/// whether it is whole, every file with its checksummed segments, and the links the engine recorded.
/// </summary>
public sealed record ImageManifest
{
    public const int CurrentFormatVersion = 4;
    public const string FileName = "manifest.json";

    public int FormatVersion { get; init; } = CurrentFormatVersion;
    public required string ToolVersion { get; init; }
    public required string ImageId { get; init; }
    public required DateTimeOffset Created { get; init; }
    public DateTimeOffset? Finished { get; init; }
    public required ImageSource Source { get; init; }
    public required IReadOnlyList<GpuNode> Topology { get; init; }
    public required ImageState State { get; init; }
    public string? FailureReason { get; init; }
    public IReadOnlyList<ManifestFile> Files { get; init; } = [];
    public IReadOnlyList<ImageLink> Links { get; init; } = [];
    public IReadOnlyDictionary<string, string> Extra { get; init; } = new Dictionary<string, string>();

    /// <summary>The image this one was made from (an incremental image's segments marked in_parent are read there); null for a whole image.</summary>
    public ImageParent? Parent { get; init; }

    /// <summary>Set when the image was committed with a node key (<see cref="ImageSignature"/>); null when unsigned.</summary>
    public ImageSignature? Signature { get; init; }

    /// <summary>The file named <paramref name="name"/> (the first, should two share it), found by name in a table built once per file list.</summary>
    public ManifestFile? FindFile(string name) => ByName.GetValue(Files, Index).GetValueOrDefault(name);

    /// <summary>Each file list's names, kept as long as the list: a restore of thousands of files looks each one up.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IReadOnlyList<ManifestFile>, Dictionary<string, ManifestFile>> ByName = new();

    private static Dictionary<string, ManifestFile> Index(IReadOnlyList<ManifestFile> files)
    {
        var index = new Dictionary<string, ManifestFile>(files.Count, StringComparer.Ordinal);
        foreach (var file in files) index.TryAdd(file.Name, file);
        return index;
    }
}
