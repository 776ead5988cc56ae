namespace Gpuckpt.Engine.Uapi;

/// <summary>AMDKFD_IOC_* request numbers (ioctl base 'K').</summary>
public static class KfdIoctls
{
    public const char Base = 'K';
    public static readonly uint GetVersion = IoctlNumber.Ior<KfdIoctlGetVersionArgs>(Base, 0x01);
    public static readonly uint CriuOp = IoctlNumber.Iowr<KfdIoctlCriuArgs>(Base, 0x22);
}
