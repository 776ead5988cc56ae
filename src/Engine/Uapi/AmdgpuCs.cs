namespace Gpuckpt.Engine.Uapi;

/// <summary>
/// Command submission constants (drm/amdgpu_drm.h) and the SDMA packet the copy engine runs: COPY_LINEAR, seven dwords
/// (header with op 1 and sub-op 0, byte count minus one, parameter, source and destination GPU VA as low/high halves),
/// as the SDMA 4 and later engines of gfx9+ parts define it; IBs are padded with NOPs (op 0) to eight dwords.
/// </summary>
public static class AmdgpuCs
{
    public const uint CtxOpAllocCtx = 1, CtxOpFreeCtx = 2;
    public const uint ChunkIdIb = 0x01, ChunkIdBoHandles = 0x06;
    public const uint HwIpDma = 2;

    public const uint SdmaOpNop = 0, SdmaOpCopy = 1, SdmaSubOpCopyLinear = 0;
    public const int CopyLinearDwords = 7;

    /// <summary>The bytes one COPY_LINEAR moves at most here: its count (bytes minus one) is 22 bits wide on SDMA 4, wider later.</summary>
    public const ulong CopyLinearMaxBytes = 1UL << 21;

    /// <summary>SDMA rings fetch IBs in units of eight dwords.</summary>
    public const int IbAlignDwords = 8;

    public static uint SdmaHeader(uint op, uint subOp) => (subOp & 0xff) << 8 | (op & 0xff);
}
