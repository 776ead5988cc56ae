using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>The image's identity: the target creates its copy with it; answered with <see cref="ImageBegun"/>.</summary>
/// <param name="Live">A live migration's image: the target keeps its copy in the page cache for the restore in the pause.</param>
public sealed record BeginImage(string MigrationId, string ImageId, ImageSource Source, IReadOnlyList<GpuNode> Topology, bool Live) : IMigrationMessage;
