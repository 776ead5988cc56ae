namespace Gpuckpt.Simulator;

/// <summary>
/// What to spawn: a named workload (tiny, train, many-bos) or a spec (JSON text of a
/// <see cref="Workloads.WorkloadSpec"/>), with the seed that decides sizes, contents and links.
/// </summary>
public sealed record WorkloadRequest(string? Workload, ulong Seed, ulong? SizeBytes = null, int? Bos = null, string? SpecJson = null)
{
    public static WorkloadRequest Named(string workload, ulong seed, ulong? sizeBytes = null, int? bos = null) =>
        new(workload, seed, sizeBytes, bos);

    /// <summary>Reads the spec file here, so the simulator needs no access to the caller's files.</summary>
    public static WorkloadRequest FromSpecFile(string path, ulong seed) => new(null, seed, SpecJson: File.ReadAllText(path));
}
