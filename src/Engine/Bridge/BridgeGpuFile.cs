namespace Gpuckpt.Engine.Bridge;

/// <summary>
/// A GPU file CRIU handed the bridge at dump (DUMP_EXT_FILE), by CRIU's file id: /dev/kfd, or a render file of
/// <paramref name="Minor"/>, the <paramref name="Index"/>-th of that node's files in the order CRIU handed them over.
/// </summary>
public sealed record BridgeGpuFile(int Id, bool IsKfd, uint Minor, int Index);
