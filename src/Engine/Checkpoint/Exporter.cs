namespace Gpuckpt.Engine.Checkpoint;

/// <summary>Who exported the buffer a render-node import refers to.</summary>
public abstract record Exporter
{
    /// <summary>A KFD BO of the process: its user gpu id and its index in the KFD bucket order.</summary>
    public sealed record Kfd(uint GpuId, int BoIndex, ulong Addr) : Exporter
    {
        public override string ToString() => $"KFD BO #{BoIndex} at 0x{Addr:x} on GPU 0x{GpuId:x}";
    }

    /// <summary>A non-import BO of one of the process's render files (by its index in capture order).</summary>
    public sealed record Render(int NodeIndex, uint GpuId, uint Handle) : Exporter
    {
        public override string ToString() => $"render BO handle {Handle} on GPU 0x{GpuId:x}";
    }
}
