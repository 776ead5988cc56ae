using Gpuckpt.Simulator;

namespace Gpuckpt.TestHooks;

/// <summary>The simulator's fault table: fails the next Count calls of an op on a process (pid 0: any process) with an errno.</summary>
public sealed class SimFaultTable : ISimFaults
{
    private readonly Dictionary<(uint Pid, SimOp Op), (int Errno, int Left)> _faults = new();

    public void Arm(SimFault fault)
    {
        if (fault.Count <= 0) _faults.Remove((fault.Pid, fault.Op));
        else _faults[(fault.Pid, fault.Op)] = (fault.Errno, fault.Count);
    }

    public int? Trip(uint pid, SimOp op)
    {
        foreach (var key in new[] { (pid, op), (0u, op) })
        {
            if (!_faults.TryGetValue(key, out var f)) continue;
            if (f.Left <= 1) _faults.Remove(key);
            else _faults[key] = (f.Errno, f.Left - 1);
            return f.Errno;
        }
        return null;
    }
}
