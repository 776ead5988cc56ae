using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Engine.Devices;

/// <summary>A CPU mapping of one BO. Offsets are 64-bit; Read and Write may be called from several threads.</summary>
public interface IBoMapping : IDisposable
{
    ulong Size { get; }
    void Read(ulong offset, Span<byte> destination);
    void Write(ulong offset, ReadOnlySpan<byte> source);

    /// <summary>
    /// A copy of a few pages returns as soon as a memory copy would: no copy engine to wait for, no delay, nothing that
    /// can stall. Only then may such a copy run on the thread that asks for it instead of an I/O thread.
    /// </summary>
    bool CopiesAtMemorySpeed => false;
}
