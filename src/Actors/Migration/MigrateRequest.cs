using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// Move process <paramref name="Pid"/>'s GPU side from node <paramref name="From"/> to node <paramref name="To"/> (names
/// or HOST:PORT). Journalled inside <see cref="MigrationStarted"/>: its shape is what journals hold, so the whole-process
/// move is a request of its own (<see cref="MigrateProcessRequest"/>).
/// </summary>
public sealed record MigrateRequest(uint Pid, string From, string To) : IMigrationMessage;
