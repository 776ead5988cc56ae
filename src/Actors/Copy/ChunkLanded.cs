using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Copy;

/// <summary>Chunk <paramref name="ChunkIndex"/> of a device is in place: written and checksummed, or restored into its BOs.</summary>
public sealed record ChunkLanded(string Device, int ChunkIndex, ulong Checksum) : ICopyMessage;
