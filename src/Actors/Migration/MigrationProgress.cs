using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>Where a running migration stands, for a progress bar.</summary>
public sealed record MigrationProgress(string MigrationId, string Step, long BytesSent, long BytesTotal, long BytesResent) : IMigrationMessage;
