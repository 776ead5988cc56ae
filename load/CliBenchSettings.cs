namespace Gpuckpt.Load;

/// <summary>
/// What `gpuckpt-load cli` measures: a workload (or a spec file), how many counted runs, which gpuckpt. <paramref name="Lean"/>
/// holds at most two copies of the process's bytes in memory at once, for images near the machine's memory: its rounds
/// are checkpoints beside dd, and one restore follows them, after the source has ended. <paramref name="Resident"/>
/// starts `gpuckpt serve` on the bench's state directory first, so the commands have their jobs run by that resident
/// engine.
/// </summary>
public sealed record CliBenchSettings(int Runs, bool CheckpointOnly, string? Gpuckpt, int Gpus, string Workload, ulong Size, int Bos, string? Spec, ulong Seed,
    bool Lean = false, bool Resident = false, bool Compress = false, bool Sparse = false);
