namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>
/// A kernel interface the kfd backend needs, as a harmless probe found it on one render node: present, missing, or
/// unknown (<see cref="Present"/> null: the probe could not tell), with the first mainline kernel that has it.
/// </summary>
public sealed record KernelIoctl(string Name, string NeededFor, string Since, bool? Present, string Detail)
{
    public string State => Present switch { true => "present", false => "missing", null => "unknown" };
}
