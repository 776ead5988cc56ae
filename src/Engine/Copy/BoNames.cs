namespace Gpuckpt.Engine.Copy;

/// <summary>How errors and progress name a BO: its GPU, bucket index or handle, GPU address and size.</summary>
public static class BoNames
{
    public static string Kfd(int bucket, uint gpuId, ulong address, ulong size) =>
        $"{KfdName(bucket)} (GPU 0x{gpuId:x}, address 0x{address:x}, {size} bytes)";

    public static string Render(uint handle, uint minor, uint gpuId, ulong address, ulong size) =>
        $"{RenderName(handle)} (renderD{minor} of GPU 0x{gpuId:x}, address 0x{address:x}, {size} bytes)";

    /// <summary>A KFD BO's name without its details: its bucket index, which one process holds once.</summary>
    public static string KfdName(int bucket) => $"KFD BO #{bucket}";

    /// <summary>A render BO's name without its details: its GEM handle, which one render file holds once.</summary>
    public static string RenderName(uint handle) => $"render BO handle {handle}";

    /// <summary>Whether <paramref name="label"/> names the BO <paramref name="name"/>: the whole label, or its name before the details.</summary>
    public static bool Names(string label, string name) =>
        label == name || label.StartsWith(name + " (", StringComparison.Ordinal);
}
