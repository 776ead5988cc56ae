using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// Every frame is confirmed: commit the copy with these files and links; answered with <see cref="ImageSealed"/>. With
/// the cluster's TLS, <paramref name="Seal"/> is the source's signature over them, checked against the copy first.
/// </summary>
public sealed record SealImage(string MigrationId, IReadOnlyList<SealedFile> Files, IReadOnlyList<ImageLink> Links, Gpuckpt.Engine.Trust.SourceSeal? Seal = null) : IMigrationMessage;
