using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// What a decoded manifest must satisfy before anything uses it: no missing or null member, every file name an
/// image file name (so no name can reach outside the directory), each file listed once, sizes and segments that
/// fit in 64 bits, links whose fields match their kind. Errors name manifest.json, or the file the entry is about.
/// </summary>
public static class ManifestRules
{
    private const string Manifest = ImageManifest.FileName;

    public static void Check(ImageManifest m)
    {
        Require(m.ToolVersion, "tool_version");
        Require(m.ImageId, "image_id");
        Require(m.Source, "source");
        Require(m.Source.Driver, "source.driver");
        Require(m.Topology, "topology");
        Require(m.Files, "files");
        Require(m.Links, "links");
        Require(m.Extra, "extra");
        if (!Enum.IsDefined(m.State)) throw new ImageException(Manifest, null, $"state {(int)m.State} is not one of in-progress, committed, failed");
        CheckTopology(m.Topology);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < m.Files.Count; i++)
        {
            var f = m.Files[i] ?? throw new ImageException(Manifest, null, $"files[{i}] is null");
            var name = f.Name ?? throw new ImageException(Manifest, null, $"files[{i}].name is missing");
            if (ImageFileName.TryParse(name) is null)
                throw new ImageException(Manifest, null, $"files[{i}].name '{Printable(name)}' is not an amdgpu image file name");
            if (!names.Add(name)) throw new ImageException(name, null, "listed twice in the manifest");
            if (f.Size < LengthPrefix.Size) throw new ImageException(name, null, $"the manifest gives it {f.Size} bytes, less than its 8-byte length prefix");
            Require(f.Segments, $"files[{i}].segments");
            for (var s = 0; s < f.Segments.Count; s++)
            {
                var segment = f.Segments[s] ?? throw new ImageException(name, null, $"segment {s} is null in the manifest");
                if (segment.InParent) CheckReference(m, name, segment);
                if (segment.Packed) CheckPacked(m, name, segment);
            }
        }
        if (m.Parent is { } parent)
        {
            Require(parent.Path, "parent.path");
            Require(parent.ImageId, "parent.image_id");
            Require(parent.ManifestSha256, "parent.manifest_sha256");
            if (parent.ManifestSha256.Length != 64 || !parent.ManifestSha256.All(char.IsAsciiHexDigitLower))
                throw new ImageException(Manifest, null, "parent.manifest_sha256 is not 64 lowercase hex digits");
        }
        for (var i = 0; i < m.Links.Count; i++) CheckLink(m.Links[i], i);
        foreach (var (key, value) in m.Extra)
            if (value is null) throw new ImageException(Manifest, null, $"extra.{Printable(key)} is null");
    }

    /// <summary>A segment read in the parent: only page files have them, only an image with a parent, never a zero one.</summary>
    private static void CheckReference(ImageManifest m, string name, Segment segment)
    {
        if (m.Parent is null) throw new ImageException(name, segment.Offset, "segment marked in_parent, but the image records no parent");
        if (segment.Zero) throw new ImageException(name, segment.Offset, "segment marked both zero and in_parent");
        if (ImageFileName.TryParse(name)?.Kind.IsPages() != true || segment.Offset < LengthPrefix.Size)
            throw new ImageException(name, segment.Offset, "segment marked in_parent outside the contents of a page file");
    }

    /// <summary>A packed segment: only page files' contents have them, from format 4 on, never a zero one, its block shorter than the piece.</summary>
    private static void CheckPacked(ImageManifest m, string name, Segment segment)
    {
        if (m.FormatVersion < PackedSegment.FirstFormat)
            throw new ImageException(name, segment.Offset, $"segment marked lz4 in an image of format {m.FormatVersion} (packed segments came with format {PackedSegment.FirstFormat})");
        if (segment.Zero) throw new ImageException(name, segment.Offset, "segment marked both zero and lz4");
        if (ImageFileName.TryParse(name)?.Kind.IsPages() != true || segment.Offset < LengthPrefix.Size)
            throw new ImageException(name, segment.Offset, "segment marked lz4 outside the contents of a page file");
        if (segment.Lz4 < 0 || segment.Lz4 >= segment.Length || segment.Length > PackedSegment.MaxLength)
            throw new ImageException(name, segment.Offset,
                $"a segment of {segment.Length} bytes claims an LZ4 block of {segment.Lz4} bytes: a block is shorter than its piece, and a piece at most {PackedSegment.MaxLength} bytes");
    }

    private static void CheckTopology(IReadOnlyList<GpuNode> topology)
    {
        var ids = new HashSet<uint>();
        for (var i = 0; i < topology.Count; i++)
        {
            var g = topology[i] ?? throw new ImageException(Manifest, null, $"topology[{i}] is null");
            Require(g.IoLinks, $"topology[{i}].io_links");
            if (g.IoLinks.Any(l => l is null)) throw new ImageException(Manifest, null, $"topology[{i}].io_links holds a null");
            if (!ids.Add(g.GpuId)) throw new ImageException(Manifest, null, $"topology lists GPU 0x{g.GpuId:x} twice");
        }
    }

    private static void CheckLink(ImageLink? link, int i)
    {
        switch (link)
        {
            case null:
                throw new ImageException(Manifest, null, $"links[{i}] is null");
            case ImportLink { ExporterKind: ExporterKind.Kfd, ExporterAddr: null }:
                throw new ImageException(Manifest, null, $"links[{i}]: a KFD exporter needs exporter_addr");
            case ImportLink { ExporterKind: ExporterKind.Render, ExporterRenderNodeId: null or < 0 } or ImportLink { ExporterKind: ExporterKind.Render, ExporterHandle: null }:
                throw new ImageException(Manifest, null, $"links[{i}]: a render exporter needs exporter_render_node_id and exporter_handle");
            case ImportLink l when !Enum.IsDefined(l.ExporterKind):
                throw new ImageException(Manifest, null, $"links[{i}]: exporter_kind {(int)l.ExporterKind} is neither kfd nor render");
            case ImportLink:
                return;
            default:
                throw new ImageException(Manifest, null, $"links[{i}]: unknown link type {link.GetType().Name}");
        }
    }

    private static void Require(object? value, string member)
    {
        if (value is null) throw new ImageException(Manifest, null, $"{member} is missing or null");
    }

    /// <summary>A name as it may be printed on one line: control characters escaped, long names cut.</summary>
    public static string Printable(string s)
    {
        var text = string.Concat(s.Take(120).Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));
        return s.Length > 120 ? text + "..." : text;
    }
}
