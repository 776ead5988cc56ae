using System.Globalization;
using System.Text.RegularExpressions;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// The CRIU amdgpu plugin's file names. <c>id</c> is the image-wide id of one device file of the process, as CRIU's
/// fd id is: the KFD file and each render node get distinct ids (so several render nodes never share a
/// <c>amdgpu-renderD-&lt;id&gt;.img</c>), and a render node's drm-pages files carry that node's id.
/// </summary>
public sealed partial record ImageFileName(ImageFileKind Kind, int Id, uint GpuId, uint Minor, int BoIndex)
{
    public static string Kfd(int id) => $"amdgpu-kfd-{id}.img";

    public static string KfdPages(int id, uint gpuId) => $"amdgpu-pages-{id}-{gpuId:x4}.img";

    public static string RenderNode(int id) => $"amdgpu-renderD-{id}.img";

    public static string DrmPages(int id, uint minor, int boIndex) => $"amdgpu-drm-pages-{id}-{minor}-{boIndex:x4}.img";

    public static string Dmabuf(int id) => $"amdgpu-dmabuf_{id}.img";

    /// <summary>The name these numbers give, in the one spelling the writer uses.</summary>
    public string FileName => Kind switch
    {
        ImageFileKind.Kfd => Kfd(Id),
        ImageFileKind.KfdPages => KfdPages(Id, GpuId),
        ImageFileKind.RenderNode => RenderNode(Id),
        ImageFileKind.DrmPages => DrmPages(Id, Minor, BoIndex),
        _ => Dmabuf(Id),
    };

    /// <summary>
    /// The kind and numbers a file name encodes, or null when it is not an image file name in its one spelling
    /// (no leading zeros, lowercase hex): two names must never mean the same file.
    /// </summary>
    public static ImageFileName? TryParse(string fileName)
    {
        var parsed = Match(fileName);
        return parsed is not null && parsed.FileName == fileName ? parsed : null;
    }

    /// <summary>The one pattern a name's prefix leaves (the prefixes are distinct), so a render BO's file costs one match, not five.</summary>
    private static ImageFileName? Match(string fileName)
    {
        Match m;
        if (fileName.StartsWith("amdgpu-kfd-", StringComparison.Ordinal))
            return (m = KfdPattern().Match(fileName)).Success ? new(ImageFileKind.Kfd, Dec(m, 1), 0, 0, 0) : null;
        if (fileName.StartsWith("amdgpu-pages-", StringComparison.Ordinal))
            return (m = KfdPagesPattern().Match(fileName)).Success ? new(ImageFileKind.KfdPages, Dec(m, 1), Hex(m, 2), 0, 0) : null;
        if (fileName.StartsWith("amdgpu-renderD-", StringComparison.Ordinal))
            return (m = RenderNodePattern().Match(fileName)).Success ? new(ImageFileKind.RenderNode, Dec(m, 1), 0, 0, 0) : null;
        if (fileName.StartsWith("amdgpu-drm-pages-", StringComparison.Ordinal))
            return (m = DrmPagesPattern().Match(fileName)).Success ? new(ImageFileKind.DrmPages, Dec(m, 1), 0, (uint)Dec(m, 2), (int)Hex(m, 3)) : null;
        if (fileName.StartsWith("amdgpu-dmabuf_", StringComparison.Ordinal))
            return (m = DmabufPattern().Match(fileName)).Success ? new(ImageFileKind.Dmabuf, Dec(m, 1), 0, 0, 0) : null;
        return null;
    }

    public static ImageFileName Parse(string fileName) =>
        TryParse(fileName) ?? throw new ImageException(fileName, null, "not an amdgpu image file name");

    private static int Dec(Match m, int group) => int.Parse(m.Groups[group].ValueSpan, CultureInfo.InvariantCulture);

    private static uint Hex(Match m, int group) =>
        uint.Parse(m.Groups[group].ValueSpan, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    // [0-9] and \z, not \d and $: \d takes any Unicode digit and $ a trailing newline, either would name another file.
    [GeneratedRegex(@"^amdgpu-kfd-([0-9]{1,9})\.img\z")]
    private static partial Regex KfdPattern();

    [GeneratedRegex(@"^amdgpu-pages-([0-9]{1,9})-([0-9a-f]{4,8})\.img\z")]
    private static partial Regex KfdPagesPattern();

    [GeneratedRegex(@"^amdgpu-renderD-([0-9]{1,9})\.img\z")]
    private static partial Regex RenderNodePattern();

    [GeneratedRegex(@"^amdgpu-drm-pages-([0-9]{1,9})-([0-9]{1,9})-([0-9a-f]{4,7})\.img\z")]
    private static partial Regex DrmPagesPattern();

    [GeneratedRegex(@"^amdgpu-dmabuf_([0-9]{1,9})\.img\z")]
    private static partial Regex DmabufPattern();
}
