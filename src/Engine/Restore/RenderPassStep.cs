using Gpuckpt.Engine.Images;

namespace Gpuckpt.Engine.Restore;

/// <summary>One node's step of a render restore pass: BOs to create, then imports to make (<see cref="RenderPassPlan.Step"/>).</summary>
public sealed record RenderPassStep(IReadOnlyList<RenderBoRef> Creates, IReadOnlyList<(RenderBoRef Bo, ImportLink Link)> Imports)
{
    public IEnumerable<RenderBoRef> All => Creates.Concat(Imports.Select(i => i.Bo));
}
