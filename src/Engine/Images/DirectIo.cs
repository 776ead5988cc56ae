using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// O_DIRECT access to page files: BO contents go between the disk and the engine's own buffers without a copy into
/// the page cache (the copy that made a buffered 1 GiB write cost more than the disk itself). O_DIRECT asks for
/// offsets, lengths and buffer addresses aligned to <see cref="Block"/>; the buffers here are.
/// A filesystem that refuses O_DIRECT leaves the caller on buffered I/O.
/// </summary>
internal static unsafe partial class DirectIo
{
    /// <summary>Alignment of O_DIRECT offsets, lengths and addresses (4 KiB covers every logical block size in use).</summary>
    public const int Block = 4096;

    /// <summary>Bytes one staged transfer moves.</summary>
    public const int StageSize = 1 << 20;

    /// <summary>Staging buffers kept for reuse (the I/O threads' worth); more are freed when given back.</summary>
    private const int PooledStages = 16;

    private const int ENOENT = 2, EACCES = 13, EINVAL = 22;

    private static int O_DIRECT => RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x10000 : 0x4000;

    private static readonly ConcurrentQueue<nint> Stages = new();
    private static int _pooled;

    public static long AlignDown(long offset) => offset & ~(long)(Block - 1);

    public static long AlignUp(long offset) => AlignDown(offset + Block - 1);

    /// <summary>True when <paramref name="bytes"/> start at a <see cref="Block"/> boundary of memory (O_DIRECT may use them as they are).</summary>
    public static bool IsAligned(ReadOnlySpan<byte> bytes)
    {
        fixed (byte* p = bytes) return (nint)p % Block == 0;
    }

    /// <summary>
    /// Opens the file <paramref name="open"/> refers to a second time, with O_DIRECT (through /proc/self/fd, so the
    /// very same inode, not whatever the path names now). Null when the filesystem or /proc refuses; other errors throw.
    /// </summary>
    public static SafeFileHandle? Reopen(SafeFileHandle open, string name, bool write)
    {
        var fd = Native.Libc.Open($"/proc/self/fd/{open.DangerousGetHandle()}", (write ? Native.Libc.O_RDWR : Native.Libc.O_RDONLY) | O_DIRECT | Native.Libc.O_CLOEXEC);
        if (fd >= 0) return new SafeFileHandle(fd, ownsHandle: true);
        var errno = Native.Libc.LastErrno;
        // EINVAL: this filesystem does not do O_DIRECT. ENOENT/EACCES: no /proc here. Either way buffered I/O serves.
        if (errno is EINVAL or ENOENT or EACCES) return null;
        throw new IOException($"{name}: reopening with O_DIRECT failed: {Describe(errno)}", errno);
    }

    /// <summary>Writes all of <paramref name="aligned"/> at <paramref name="offset"/>; every pwrite checked.</summary>
    public static void Write(SafeFileHandle handle, string name, ReadOnlySpan<byte> aligned, long offset)
    {
        fixed (byte* p = aligned)
        {
            var done = 0;
            while (done < aligned.Length)
            {
                var n = PWrite((int)handle.DangerousGetHandle(), p + done, (nuint)(aligned.Length - done), offset + done);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    throw new IOException($"{name}: write of [{offset + done}, {offset + aligned.Length}) failed: {Describe(errno)}", errno);
                }
                if (n == 0) throw new IOException($"{name}: write at {offset + done} wrote nothing");
                done += (int)n;
            }
        }
    }

    /// <summary>
    /// Reads up to <paramref name="aligned"/>.Length bytes at <paramref name="offset"/>; fewer only where the file
    /// ends. Returns the bytes read.
    /// </summary>
    public static int Read(SafeFileHandle handle, string name, Span<byte> aligned, long offset)
    {
        fixed (byte* p = aligned)
        {
            var done = 0;
            while (done < aligned.Length)
            {
                var n = PRead((int)handle.DangerousGetHandle(), p + done, (nuint)(aligned.Length - done), offset + done);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    throw new IOException($"{name}: read at {offset + done} failed: {Describe(errno)}", errno);
                }
                if (n == 0) break;
                done += (int)n;
            }
            return done;
        }
    }

    private static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";

    /// <summary>An aligned staging buffer of <see cref="StageSize"/> bytes; give it back with <see cref="Return"/>.</summary>
    public static nint Rent()
    {
        if (Stages.TryDequeue(out var stage))
        {
            Interlocked.Decrement(ref _pooled);
            return stage;
        }
        return (nint)NativeMemory.AlignedAlloc(StageSize, Block);
    }

    public static void Return(nint stage)
    {
        if (Interlocked.Increment(ref _pooled) <= PooledStages)
        {
            Stages.Enqueue(stage);
            return;
        }
        Interlocked.Decrement(ref _pooled);
        NativeMemory.AlignedFree((void*)stage);
    }

    public static Span<byte> Span(nint stage, int length) => new((void*)stage, length);

    [LibraryImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    private static partial nint PWrite(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    private static partial nint PRead(int fd, byte* buffer, nuint count, long offset);
}
