namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>
/// What this machine offers each backend: the kfd backend's checks, whether each backend can run here, and each kernel
/// ioctl the kfd backend needs as the probes found it.
/// </summary>
public sealed record DoctorReport(IReadOnlyList<DoctorCheck> Checks, bool KfdUsable, bool SimulatorUsable, IReadOnlyList<KernelIoctl>? Ioctls = null)
{
    public IEnumerable<DoctorCheck> Missing => Checks.Where(c => !c.Ok);
}
