using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// A target engine that restarted asks the coordinator what was decided; answered with <see cref="MigrationDecision"/>,
/// or, when the target was still receiving the image (<paramref name="CanContinue"/>) and the coordinator waits for it,
/// with <see cref="TransferResumes"/>.
/// </summary>
public sealed record QueryMigration(string MigrationId, string Node, string Reason, bool CanContinue = false) : IMigrationMessage;
