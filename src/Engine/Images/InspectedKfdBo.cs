namespace Gpuckpt.Engine.Images;

/// <summary>One KFD BO; PagesOffset is where its contents start in its GPU's pages file (null: no contents).</summary>
public sealed record InspectedKfdBo(
    int Index, uint GpuId, string Domain, ulong Addr, ulong Size, ulong Offset, uint Handle, uint AllocFlags, long? PagesOffset);
