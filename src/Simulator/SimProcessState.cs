namespace Gpuckpt.Simulator;

/// <summary>
/// A simulated process as `gpuckpt state` reports it. The digest covers the step and every BO by stable identity
/// (KFD BO: user gpu id + address; render BO: user gpu id of its node + handle), so a restored copy on other GPUs
/// has the same digest as the original.
/// </summary>
public sealed record SimProcessState(
    uint Pid,
    ulong Step,
    string Digest,
    bool Paused,
    bool Running,
    int Gpus,
    int Bos,
    ulong Bytes,
    ProcessCounters Counters);
