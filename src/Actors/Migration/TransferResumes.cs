using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>The transfer goes on to the restarted target: the frames it confirmed before are checked, not sent again.</summary>
public sealed record TransferResumes(string MigrationId) : IMigrationMessage;
