using System.Runtime.InteropServices;

namespace Gpuckpt.Simulator.Memory;

/// <summary>fallocate(2) hole punching: a freed BO's pages go back to the system while the file keeps its size.</summary>
internal static partial class FileHoles
{
    private const int FallocFlKeepSize = 0x01, FallocFlPunchHole = 0x02;

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int Fallocate(int fd, int mode, long offset, long length);

    public static void Punch(SafeHandle file, string path, ulong offset, ulong length)
    {
        if (length == 0) return;
        if (Fallocate((int)file.DangerousGetHandle(), FallocFlPunchHole | FallocFlKeepSize, checked((long)offset), checked((long)length)) != 0)
            throw new IOException($"fallocate(PUNCH_HOLE) of {path} at 0x{offset:x}+{length} failed: errno {Marshal.GetLastPInvokeError()}");
    }
}
