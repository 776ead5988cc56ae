namespace Gpuckpt.Engine.Uapi;

/// <summary>DRM core and amdgpu render-node request numbers (ioctl base 'd'), as mainline Linux defines them.</summary>
public static class DrmIoctls
{
    public const char Base = 'd';
    public const uint CommandBase = 0x40;

    public static readonly uint GemClose = IoctlNumber.Iow<DrmGemClose>(Base, 0x09);
    public static readonly uint PrimeHandleToFd = IoctlNumber.Iowr<DrmPrimeHandle>(Base, 0x2d);
    public static readonly uint PrimeFdToHandle = IoctlNumber.Iowr<DrmPrimeHandle>(Base, 0x2e);
    public static readonly uint GemChangeHandle = IoctlNumber.Iowr<DrmGemChangeHandle>(Base, 0xd2);

    public static readonly uint AmdgpuGemCreate = IoctlNumber.Iowr<DrmAmdgpuGemCreate>(Base, CommandBase + 0x00);
    public static readonly uint AmdgpuGemMmap = IoctlNumber.Iowr<DrmAmdgpuGemMmap>(Base, CommandBase + 0x01);
    public static readonly uint AmdgpuCtx = IoctlNumber.Iowr<DrmAmdgpuCtx>(Base, CommandBase + 0x02);
    public static readonly uint AmdgpuCs = IoctlNumber.Iowr<DrmAmdgpuCs>(Base, CommandBase + 0x04);
    public static readonly uint AmdgpuWaitCs = IoctlNumber.Iowr<DrmAmdgpuWaitCs>(Base, CommandBase + 0x09);
    public static readonly uint AmdgpuGemVa = IoctlNumber.Iow<DrmAmdgpuGemVa>(Base, CommandBase + 0x08);
    public static readonly uint AmdgpuGemOp = IoctlNumber.Iowr<DrmAmdgpuGemOp>(Base, CommandBase + 0x10);
    public static readonly uint AmdgpuGemListHandles = IoctlNumber.Iowr<DrmAmdgpuGemListHandles>(Base, CommandBase + 0x19);
}
