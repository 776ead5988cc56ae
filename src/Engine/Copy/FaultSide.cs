using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Engine.Copy;

/// <summary>Which side of a chunk's copy a fault hits: the image file's I/O, or a BO's mapping.</summary>
public enum FaultSide
{
    File,
    Bo,
}
