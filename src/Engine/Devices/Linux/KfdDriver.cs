namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>The real /dev/kfd and /dev/dri/renderD* devices.</summary>
public static class KfdDriver
{
    public static IGpuDriver Open() => throw new DriverException(Errno.ENODEV, "open", "/dev/kfd", detail: "backend not built yet");
}
