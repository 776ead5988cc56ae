namespace Gpuckpt.Load;

/// <summary>What `gpuckpt-load cli` measures: a workload (or a spec file), how many counted runs, which gpuckpt.</summary>
public sealed record CliBenchSettings(int Runs, bool CheckpointOnly, string? Gpuckpt, int Gpus, string Workload, ulong Size, int Bos, string? Spec, ulong Seed);
