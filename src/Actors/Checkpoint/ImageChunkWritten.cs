using Akka.Actor;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Actors.Checkpoint;

/// <summary>
/// A chunk is in the image: payload bytes [Offset, Offset+Length) of page file <paramref name="FileName"/> (whose payload
/// is <paramref name="FileLength"/> bytes) hash to <paramref name="Checksum"/>.
/// </summary>
public sealed record ImageChunkWritten(string FileName, long FileLength, long Offset, int Length, ulong Checksum) : ICheckpointMessage;
