using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

public sealed record TargetHeld(string MigrationId, uint Pid, IReadOnlyDictionary<string, string> GpuMap) : IMigrationMessage;
