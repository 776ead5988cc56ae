using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// The target's copy exists. <paramref name="DataPort"/> and <paramref name="DataToken"/> (when the target's node has a
/// data port) say where to send frames instead of through remoting, and the token that admits them there.
/// </summary>
public sealed record ImageBegun(string MigrationId, int DataPort = 0, string? DataToken = null) : IMigrationMessage;
