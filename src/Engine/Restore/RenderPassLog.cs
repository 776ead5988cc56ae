using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;

namespace Gpuckpt.Engine.Restore;

/// <summary>What each pass restored, for the report and the dry run.</summary>
public sealed record RenderPassLog(IReadOnlyList<IReadOnlyList<RenderBoRef>> Passes)
{
    public int Count => Passes.Count;
}
