namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>One thing a backend needs from this machine: whether it is there, what was found, and how to get it when not.</summary>
public sealed record DoctorCheck(string Name, bool Ok, string Detail, string? Fix = null);

/// <summary>
/// What this machine offers each backend: the kfd backend's checks, whether each backend can run here, and each kernel
/// ioctl the kfd backend needs as the probes found it.
/// </summary>
public sealed record DoctorReport(IReadOnlyList<DoctorCheck> Checks, bool KfdUsable, bool SimulatorUsable, IReadOnlyList<KernelIoctl>? Ioctls = null)
{
    public IEnumerable<DoctorCheck> Missing => Checks.Where(c => !c.Ok);
}
