using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Copy;

/// <summary>Progress of one device, published on the event stream: bytes and BOs in place, chunks in flight.</summary>
public sealed record DeviceProgress(string Device, long BytesDone, long BytesTotal, int ChunksInFlight, int BosDone = 0, int BosTotal = 0) : ICopyMessage;
