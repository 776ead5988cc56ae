namespace Gpuckpt.Simulator;

/// <summary>
/// Fail the next <see cref="Count"/> calls of <see cref="Op"/> on process <see cref="Pid"/> with <see cref="Errno"/>.
/// Pid 0 matches every process; MapBo names no process, so its faults take pid 0.
/// </summary>
public sealed record SimFault(uint Pid, SimOp Op, int Errno, int Count = 1);
