using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Restore;

/// <summary>
/// What a restore will do, decided before it touches a device: the image (verified whole), the map of its GPUs onto
/// local ones, and the stages with their render-node passes.
/// </summary>
public sealed record RestorePlan(LoadedImage Image, TopologyMap Map)
{
    /// <summary>
    /// Each page file's signed digest, still to be checked against the contents as the restore reads them
    /// (<see cref="PageFileReader.RecordDigests"/>), before RESUME: file name to digest. Empty when the whole image was
    /// verified before the restore began, or nothing is signed.
    /// </summary>
    public IReadOnlyDictionary<string, string> PendingDigests { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Verifies all of the image but its contents before any device is touched: the manifest and its state, every
    /// file's presence, size and length prefix, every metadata file's checksum and protobuf parse, the cross-file rules,
    /// the segments that will check the contents, and that every import's exporter is in the image; then maps the
    /// GPUs. Contents are verified as they stream (<see cref="PageFileReader"/>), so each content byte is read once.
    /// A node that checks signatures (<paramref name="trust"/>) checks the signature's MACs and the metadata files'
    /// digests here, and each page file's digest from the reads the contents make (<see cref="PendingDigests"/>): a
    /// forged page file is refused before the process it began is resumed, and that process is discarded. The restore
    /// of an incremental image, of an image an older build wrote, or one continued after a crash
    /// (<paramref name="wholeFirst"/>: contents written before the crash are not read again) verifies the whole image,
    /// chain and contents, before a device is touched. Throws with the reason.
    /// </summary>
    /// <param name="checkedManifest">
    /// The SHA-256 of a manifest whose files were hashed and checked against a signature moments ago (a migration target's
    /// copy, checked against the source's seal as it was committed): while the manifest is still that one, its files are
    /// not read a second time before the restore; their contents are checked segment by segment as they stream.
    /// </param>
    public static RestorePlan Prepare(string dir, IReadOnlyList<GpuNode> localGpus, ImageTrust? trust = null, string? checkedManifest = null,
        bool wholeFirst = false)
    {
        var manifest = ManifestCodec.Load(dir);
        var alreadyChecked = checkedManifest is not null && checkedManifest ==
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, ImageManifest.FileName))))
            && manifest.Parent is null;
        IReadOnlyDictionary<string, string> pending = new Dictionary<string, string>();
        VerifiedImage? accepted = null;
        if (!alreadyChecked && (trust is { Require: true } or { Key: not null } || manifest.Parent is not null))
        {
            // An incremental image reads most of its contents in its parents: the whole chain is verified before a device is touched.
            var whole = wholeFirst || manifest.Parent is not null || manifest.FormatVersion != ImageManifest.CurrentFormatVersion;
            var verified = whole ? ImageVerifier.Verify(dir, trust: trust) : ImageVerifier.VerifyAllButContents(dir, trust, out pending, out accepted, manifest);
            // Refused: the whole image is read to name what a reading in order meets first (a file whose contents were
            // rewritten and resealed, rather than the manifest whose MAC no longer matches).
            if (!verified.Ok && !whole && ImageVerifier.Verify(dir, trust: trust) is { Ok: false } precise) verified = precise;
            if (!verified.Ok) throw new ImageException(verified.File ?? dir, verified.Offset, verified.Reason ?? "verification failed");
        }
        // What the verify accepted is what is restored: the manifest and metadata files are not read again.
        var reader = accepted is not null ? ImageReader.Open(dir, accepted) : ImageReader.Open(dir);
        reader.CheckLayout();
        var image = LoadedImage.Load(reader);
        RenderRestorePasses.CheckExporters(image.RenderNodes, image.Imports, image.Kfd);
        return new RestorePlan(image, TopologyMatcher.Match(image.Gpus, localGpus)) { PendingDigests = pending };
    }

    /// <summary>
    /// Checks the contents a restore read against <see cref="PendingDigests"/>: each page file's digest from
    /// <paramref name="read"/> (the readers the contents went through, their digests recorded), or read now for one no
    /// reader opened. Throws naming the first file whose contents are not the ones signed.
    /// </summary>
    public void CheckPendingDigests(IEnumerable<PageFileReader> read)
    {
        if (PendingDigests.Count == 0) return;
        var digests = read.ToDictionary(r => r.FileName, r => r.Digest(), StringComparer.Ordinal);
        var manifest = Image.Reader.Manifest;
        foreach (var (name, signed) in PendingDigests.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var actual = digests.TryGetValue(name, out var d) ? d
                : FileDigest.Read(Image.Reader.Directory, manifest.FindFile(name) ?? throw new ImageException(name, null, "signed but not in the manifest"), manifest.FormatVersion);
            if (actual != signed)
                throw new ImageException(name, null, $"contents changed after the image was signed (digest {actual}, signed {signed})");
        }
    }

    /// <summary>The stages as a dry run prints them; the render passes are simulated, nothing is created.</summary>
    public IReadOnlyList<RestoreStage> Stages()
    {
        var kfd = Image.Kfd;
        var passes = RenderRestorePasses.Run(Image.RenderNodes, Image.Imports, kfd, new DryRun());
        var contentBytes = kfd.BoEntries.Where(b => ((KfdAllocFlags)b.AllocFlags).HasContents()).Sum(b => (long)b.Size)
                           + Image.RenderNodes.SelectMany(n => n.BoEntries).Where(e => e.IsImport == 0).Sum(e => (long)e.Size);
        var stages = new List<RestoreStage>
        {
            new("verify", $"{Image.Reader.Manifest.Files.Count} files, checksums checked"),
            new("topology", string.Join(", ", Map.ByUserGpuId.OrderBy(kv => kv.Key).Select(kv => $"0x{kv.Key:x} -> 0x{kv.Value.GpuId:x} (renderD{kv.Value.DrmRenderMinor})"))),
            new("kfd-restore", $"{kfd.BoEntries.Count} BOs on {Image.GpuEntries.Count} GPUs, {kfd.PrivData.Length} bytes of queue/event state"),
        };
        for (var i = 0; i < passes.Count; i++)
            stages.Add(new($"render-pass-{i + 1}", string.Join(", ", passes.Passes[i].Select(b => $"{(b.Entry.IsImport != 0 ? "import" : "create")} {b}"))));
        stages.Add(new("contents", $"{contentBytes} bytes"));
        stages.Add(new("resume", "RESUME once"));
        return stages;
    }

    private sealed class DryRun : IRenderRestoreOps
    {
        public void Create(RenderBoRef bo) { }
        public void Import(RenderBoRef bo, ImportLink link) { }
    }
}
