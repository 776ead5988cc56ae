namespace Gpuckpt.Actors.Migration;

/// <summary>The commit: the target holds the restored process short of RESUME. From here the migration only goes forward.</summary>
public sealed record MigrationCommitted(uint TargetPid, IReadOnlyDictionary<string, string> GpuMap) : IMigrationEvent;
