using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

public sealed record ImageSealed(string MigrationId, long Bytes) : IMigrationMessage;
