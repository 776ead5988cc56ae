using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Copy;

/// <summary>Every chunk of the device is in place.</summary>
public sealed record DeviceCopied(string Device, long Bytes, double Seconds) : ICopyMessage;
