using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// Move process <paramref name="Pid"/> from node <paramref name="From"/> to node <paramref name="To"/> (names or HOST:PORT);
/// with <paramref name="Criu"/> the whole process, dumped and restored by CRIU.
/// </summary>
public sealed record MigrateRequest(uint Pid, string From, string To, bool Criu = false) : IMigrationMessage;
