using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;

namespace Gpuckpt.Engine.Restore;

/// <summary>One render-node BO of the image: its node (by image id) and its entry.</summary>
public sealed record RenderBoRef(int NodeId, uint GpuId, uint Minor, DrmBoEntry Entry)
{
    public uint Handle => Entry.Handle;
    public bool IsImport => Entry.IsImport != 0;
    public override string ToString() => $"render BO handle {Handle} on GPU 0x{GpuId:x} (renderD{Minor}, address 0x{Entry.Addr:x}, {Entry.Size} bytes)";
}
