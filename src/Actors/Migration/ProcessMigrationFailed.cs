namespace Gpuckpt.Actors.Migration;

/// <summary>
/// A whole-process migration ended without its commit: <paramref name="Node"/> and <paramref name="Step"/> say where it
/// failed; <paramref name="RestoredOnSource"/> when the process, dumped, runs again on the source, restored from its dump
/// there; <paramref name="Outcome"/> where the process is now and what is left. (<see cref="MigrationFailed"/> is
/// journalled and keeps its shape.)
/// </summary>
public sealed record ProcessMigrationFailed(string MigrationId, uint Pid, string Node, string Step, string Reason, bool RestoredOnSource, string Outcome) : IMigrationMessage;
