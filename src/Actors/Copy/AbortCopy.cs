using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Copy;

/// <summary>Stop dispatching, let in-flight chunks land, then report the device as failed.</summary>
public sealed class AbortCopy : ICopyMessage
{
    public static readonly AbortCopy Instance = new();
    private AbortCopy() { }
}
