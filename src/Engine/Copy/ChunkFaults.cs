using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Engine.Copy;

/// <summary>Which side of a chunk's copy a fault hits: the image file's I/O, or a BO's mapping.</summary>
public enum FaultSide
{
    File,
    Bo,
}

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

/// <summary>Injects the configured <see cref="ChunkFault"/>s where the copy does its I/O. Thread-safe.</summary>
public sealed class ChunkFaults(IReadOnlyList<ChunkFault> faults)
{
    public static readonly ChunkFaults None = new([]);

    // Hits per fault (by its index) and chunk: a fault on a BO counts each of its chunks apart.
    private readonly Dictionary<(int Fault, int Chunk), int> _hits = new();
    private readonly Lock _gate = new();

    public IReadOnlyList<ChunkFault> Faults { get; } = faults;

    /// <summary>
    /// The errno of the fault due at this point (it counts as fired), or null: the first configured fault on this
    /// device, side and chunk (or on one of the chunk's BOs, labelled <paramref name="bos"/>) that has not fired its times.
    /// </summary>
    public int? Due(string device, int chunk, FaultSide side, IEnumerable<string>? bos = null)
    {
        if (Faults.Count == 0) return null;
        lock (_gate)
        {
            for (var i = 0; i < Faults.Count; i++)
            {
                var fault = Faults[i];
                if (fault.Device != device || fault.Side != side || !fault.Strikes(chunk, bos ?? [])) continue;
                var hits = _hits.GetValueOrDefault((i, chunk));
                if (hits >= fault.Times) continue;
                _hits[(i, chunk)] = hits + 1;
                return fault.ErrorNumber;
            }
        }
        return null;
    }

    /// <summary>Strikes the fault due at this point, if any (a short write is one only where something is written).</summary>
    public void At(string device, int chunk, FaultSide side, string op, CancellationToken cancel, IEnumerable<string>? bos = null)
    {
        if (Due(device, chunk, side, bos) is { } errno) Strike(errno, op, cancel);
    }

    /// <summary>
    /// Fails <paramref name="op"/> with <paramref name="errno"/>; a stall instead hangs until <paramref name="cancel"/> is
    /// cancelled (the attempt's timeout, or its copy stopping), as I/O that never returns would.
    /// </summary>
    public static void Strike(int errno, string op, CancellationToken cancel)
    {
        if (errno == ChunkIoException.Stall)
        {
            cancel.WaitHandle.WaitOne();
            throw new OperationCanceledException($"{op} stalled (injected) until it was cancelled", cancel);
        }
        throw new ChunkIoException(errno, op, "injected");
    }

    /// <summary>How many times <paramref name="fault"/> has fired, over all the chunks it strikes.</summary>
    public int Hits(ChunkFault fault)
    {
        var index = Faults.ToList().IndexOf(fault);
        lock (_gate) return _hits.Where(h => h.Key.Fault == index).Sum(h => h.Value);
    }

    /// <summary>How many distinct chunks <paramref name="fault"/> has struck.</summary>
    public int ChunksHit(ChunkFault fault)
    {
        var index = Faults.ToList().IndexOf(fault);
        lock (_gate) return _hits.Count(h => h.Key.Fault == index);
    }

    /// <summary>Parses "EIO", "EINTR", "EAGAIN", "ENOSPC", "EINVAL", "short-write" or "stall".</summary>
    public static int ParseError(string name) => name switch
    {
        "EIO" => Errno.EIO,
        "EINTR" => Errno.EINTR,
        "EAGAIN" => Errno.EAGAIN,
        "ENOSPC" => Errno.ENOSPC,
        "EINVAL" => Errno.EINVAL,
        "short-write" => ChunkIoException.ShortWrite,
        "stall" => ChunkIoException.Stall,
        _ => throw new ArgumentException($"unknown injected fault '{name}': EIO, EINTR, EAGAIN, ENOSPC, EINVAL, short-write or stall"),
    };
}
