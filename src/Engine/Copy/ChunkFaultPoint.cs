namespace Gpuckpt.Engine.Copy;

/// <summary>Where one chunk's I/O asks <see cref="ChunkFaults"/> whether a fault is due: its device, its index and its BOs' labels.</summary>
public readonly record struct ChunkFaultPoint(ChunkFaults Faults, string Device, int Chunk, IEnumerable<string> Bos)
{
    /// <summary>No fault is ever due (a copy without a fault table).</summary>
    public static ChunkFaultPoint None(int chunk) => new(ChunkFaults.None, "", chunk, []);

    /// <inheritdoc cref="ChunkFaults.Due"/>
    public int? Due(FaultSide side) => Faults.Due(Device, Chunk, side, Bos);

    /// <inheritdoc cref="ChunkFaults.At"/>
    public void At(FaultSide side, string op, CancellationToken cancel) => Faults.At(Device, Chunk, side, op, cancel, Bos);
}
