namespace Gpuckpt.Engine.Images;

/// <summary>One render-node BO with its GPU VA mappings, its contents file or, for an import, where it came from.</summary>
public sealed record InspectedRenderBo(
    int Index, uint Handle, string Domains, ulong Addr, ulong Size, ulong AllocFlags, ulong Alignment, bool IsImport,
    IReadOnlyList<InspectedMapping> Mappings, string? PagesFile, string? ImportedFrom);
