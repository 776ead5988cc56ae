namespace Gpuckpt.Engine.Copy;

/// <summary>How errors and progress name a BO: its GPU, bucket index or handle, GPU address and size.</summary>
public static class BoNames
{
    public static string Kfd(int bucket, uint gpuId, ulong address, ulong size) =>
        $"KFD BO #{bucket} (GPU 0x{gpuId:x}, address 0x{address:x}, {size} bytes)";

    public static string Render(uint handle, uint minor, uint gpuId, ulong address, ulong size) =>
        $"render BO handle {handle} (renderD{minor} of GPU 0x{gpuId:x}, address 0x{address:x}, {size} bytes)";
}
