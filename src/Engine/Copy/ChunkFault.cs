using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Engine.Copy;

/// <summary>
/// A fault injected into the copy path, for tests only (production configuration has none): on device
/// <paramref name="Device"/>, chunk <paramref name="Chunk"/> (its index in the device's plan) fails on
/// <paramref name="Side"/> with <paramref name="ErrorNumber"/> (or <see cref="ChunkIoException.ShortWrite"/>, or stalls:
/// <see cref="ChunkIoException.Stall"/>), the first <paramref name="Times"/> times it is tried. A fault that names a BO
/// (<paramref name="Bo"/>, see <see cref="OnBo"/>) strikes every chunk that carries a piece of that BO instead, each of
/// them the first <paramref name="Times"/> times it is tried.
/// </summary>
public sealed record ChunkFault(string Device, int Chunk, FaultSide Side, int ErrorNumber, int Times, string? Bo = null)
{
    /// <summary>The <see cref="Chunk"/> of a fault that names a BO: it strikes wherever that BO's pieces lie.</summary>
    public const int AnyChunk = -1;

    /// <summary>
    /// A fault on every piece of one BO of <paramref name="device"/>, named as errors print it: the whole label, or its
    /// name alone (<c>KFD BO #3</c>, <c>render BO handle 5</c>), which a device holds once.
    /// </summary>
    public static ChunkFault OnBo(string device, string bo, FaultSide side, int errorNumber, int times) =>
        new(device, AnyChunk, side, errorNumber, times, bo);

    /// <summary>Whether this fault strikes chunk <paramref name="chunk"/> of its device, which carries the BOs labelled <paramref name="bos"/>.</summary>
    public bool Strikes(int chunk, IEnumerable<string> bos) => Bo is null ? Chunk == chunk : bos.Any(label => BoNames.Names(label, Bo));
}
