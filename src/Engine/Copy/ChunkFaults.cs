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
/// <paramref name="Side"/> with <paramref name="ErrorNumber"/> (or <see cref="ChunkIoException.ShortWrite"/>), the first
/// <paramref name="Times"/> times it is tried.
/// </summary>
public sealed record ChunkFault(string Device, int Chunk, FaultSide Side, int ErrorNumber, int Times);

/// <summary>Injects the configured <see cref="ChunkFault"/>s where the copy does its I/O. Thread-safe.</summary>
public sealed class ChunkFaults(IReadOnlyList<ChunkFault> faults)
{
    public static readonly ChunkFaults None = new([]);

    private readonly Dictionary<(string, int, FaultSide), int> _hits = new();
    private readonly Lock _gate = new();

    public IReadOnlyList<ChunkFault> Faults { get; } = faults;

    /// <summary>The errno of the fault due at this point (it counts as fired), or null.</summary>
    public int? Due(string device, int chunk, FaultSide side)
    {
        if (Faults.Count == 0) return null;
        var fault = Faults.FirstOrDefault(f => f.Device == device && f.Chunk == chunk && f.Side == side);
        if (fault is null) return null;
        lock (_gate)
        {
            var hits = _hits.GetValueOrDefault((device, chunk, side));
            if (hits >= fault.Times) return null;
            _hits[(device, chunk, side)] = hits + 1;
        }
        return fault.ErrorNumber;
    }

    /// <summary>Throws the fault due at this point, if any (a short write is one only where something is written).</summary>
    public void At(string device, int chunk, FaultSide side, string op)
    {
        if (Due(device, chunk, side) is { } errno) throw new ChunkIoException(errno, op, "injected");
    }

    /// <summary>How many times <paramref name="fault"/> has fired.</summary>
    public int Hits(ChunkFault fault)
    {
        lock (_gate) return _hits.GetValueOrDefault((fault.Device, fault.Chunk, fault.Side));
    }

    /// <summary>Parses "EIO", "EINTR", "EAGAIN" or "short-write".</summary>
    public static int ParseError(string name) => name switch
    {
        "EIO" => Errno.EIO,
        "EINTR" => Errno.EINTR,
        "EAGAIN" => Errno.EAGAIN,
        "ENOSPC" => Errno.ENOSPC,
        "EINVAL" => Errno.EINVAL,
        "short-write" => ChunkIoException.ShortWrite,
        _ => throw new ArgumentException($"unknown injected fault '{name}': EIO, EINTR, EAGAIN, ENOSPC, EINVAL or short-write"),
    };
}
