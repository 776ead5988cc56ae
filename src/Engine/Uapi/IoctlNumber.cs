namespace Gpuckpt.Engine.Uapi;

/// <summary>Linux asm-generic ioctl request encoding: dir(2) | size(14) | type(8) | nr(8).</summary>
public static class IoctlNumber
{
    public const uint None = 0, Write = 1, Read = 2;

    public static uint Encode(uint dir, char type, uint nr, int size) =>
        (dir << 30) | ((uint)size << 16) | ((uint)type << 8) | nr;

    public static uint Io(char type, uint nr) => Encode(None, type, nr, 0);
    public static uint Ior<T>(char type, uint nr) where T : unmanaged => Encode(Read, type, nr, Sizes.Of<T>());
    public static uint Iow<T>(char type, uint nr) where T : unmanaged => Encode(Write, type, nr, Sizes.Of<T>());
    public static uint Iowr<T>(char type, uint nr) where T : unmanaged => Encode(Read | Write, type, nr, Sizes.Of<T>());

    public static uint Nr(uint request) => request & 0xff;
    public static int Size(uint request) => (int)((request >> 16) & 0x3fff);
}
