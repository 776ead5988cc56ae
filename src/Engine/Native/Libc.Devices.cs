namespace Gpuckpt.Engine.Native;

internal static unsafe partial class Libc
{
    private const uint STATX_BASIC = 0x7ff;

    /// <summary>
    /// The device number of a device file, as glibc's struct stat st_rdev spells it (makedev), or null when the path
    /// is absent or no device. statx's stx_rdev_major and stx_rdev_minor are the u32s at offsets 128 and 132.
    /// </summary>
    public static ulong? StatRdev(string path)
    {
        var buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, 0, STATX_BASIC, buffer) != 0) return null;
        var type = *(ushort*)(buffer + 28) & S_IFMT;
        if (type != 0x2000 && type != 0x6000) return null; // S_IFCHR, S_IFBLK
        ulong major = *(uint*)(buffer + 128), minor = *(uint*)(buffer + 132);
        return ((major & 0xfffff000UL) << 32) | ((major & 0xfffUL) << 8) | ((minor & 0xffffff00UL) << 12) | (minor & 0xffUL);
    }
}
