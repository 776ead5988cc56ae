using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>The image's identity: the target creates its copy with it; answered with <see cref="ImageBegun"/>.</summary>
public sealed record BeginImage(string MigrationId, string ImageId, ImageSource Source, IReadOnlyList<GpuNode> Topology) : IMigrationMessage;
