namespace Gpuckpt.Actors.Restore;

/// <summary>
/// A process to restore into is about to be created with <paramref name="Tag"/>: journalled first, so that an engine
/// killed before <see cref="TargetCreated"/> is durable still finds the process (by its tag) and removes it.
/// </summary>
public sealed record TargetIntended(string Tag) : IRestoreEvent;
