namespace Gpuckpt.Actors.Migration;

/// <summary>
/// Move process <paramref name="Pid"/> whole from node <paramref name="From"/> to node <paramref name="To"/> (names or
/// HOST:PORT): dumped by CRIU on the source, restored by CRIU on the target.
/// </summary>
public sealed record MigrateProcessRequest(uint Pid, string From, string To) : IMigrationMessage;
