namespace Gpuckpt.Simulator;

/// <summary>A simulator's fault table: only a test build supplies one (see <see cref="SimFaultHooks"/>).</summary>
public interface ISimFaults
{
    /// <summary>Arms <paramref name="fault"/> (Count 0 disarms it).</summary>
    void Arm(SimFault fault);

    /// <summary>The errno to fail this call with, when a fault is armed for it (pid 0 arms it for every process).</summary>
    int? Trip(uint pid, SimOp op);
}
