using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Engine.Devices;

/// <summary>A CPU mapping of one BO. Offsets are 64-bit; Read and Write may be called from several threads.</summary>
public interface IBoMapping : IDisposable
{
    ulong Size { get; }
    void Read(ulong offset, Span<byte> destination);
    void Write(ulong offset, ReadOnlySpan<byte> source);
}
