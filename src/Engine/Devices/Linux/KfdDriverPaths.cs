namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>Where the Linux backend finds the kernel's files; tests point them at directories they build.</summary>
public sealed record KfdDriverPaths
{
    public string Kfd { get; init; } = "/dev/kfd";
    public string Topology { get; init; } = "/sys/class/kfd/kfd/topology";
    public string Dri { get; init; } = "/dev/dri";
    public string Proc { get; init; } = "/proc";

    /// <summary>The checkpointer's own status file, for its effective capabilities.</summary>
    public string SelfStatus { get; init; } = "/proc/self/status";

    public string RenderNode(uint minor) => Path.Combine(Dri, $"renderD{minor}");
}
