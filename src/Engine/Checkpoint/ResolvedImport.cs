namespace Gpuckpt.Engine.Checkpoint;

/// <summary>One render-node import (render file <see cref="NodeIndex"/> in capture order) and the BO that exports its buffer.</summary>
public sealed record ResolvedImport(int NodeIndex, uint GpuId, uint Handle, Exporter Exporter);
