using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;

namespace Gpuckpt.Engine.Restore;

/// <summary>What the passes do to a device (or, for a dry run, to nothing).</summary>
public interface IRenderRestoreOps
{
    /// <summary>A non-import BO: create it, give it its original handle, map every VM mapping.</summary>
    void Create(RenderBoRef bo);

    /// <summary>An import whose exporter's dmabuf exists: import it, give it its original handle, map it.</summary>
    void Import(RenderBoRef bo, ImportLink link);
}
