using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Engine.Copy;

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
