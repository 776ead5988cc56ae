using Gpuckpt.Engine.Native;

namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>ioctl(2) with a pinned argument struct: 0 or the errno, retrying where the call was interrupted.</summary>
internal static unsafe class DeviceIoctl
{
    public static int Call<T>(int fd, uint request, ref T args) where T : unmanaged
    {
        fixed (T* p = &args)
        {
            while (true)
            {
                if (Libc.Ioctl(fd, request, p) >= 0) return 0;
                var errno = Libc.LastErrno;
                // As libdrm's drmIoctl: a signal or a busy driver only asks for the same call again.
                if (errno is Errno.EINTR or Errno.EAGAIN) continue;
                return errno;
            }
        }
    }

    /// <summary>The user-space address of a pinned span for a __u64 pointer field (0 for an empty span).</summary>
    public static ulong Address<T>(T* p, int length) where T : unmanaged => length == 0 ? 0 : (ulong)p;
}
