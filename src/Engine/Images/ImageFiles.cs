using Gpuckpt.Engine.Native;
using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// Opens a file of an image for reading, refusing what an image file can never be: a name that is not an image
/// file name (so nothing outside the directory), a symbolic link (it could point anywhere), a FIFO or device (a read
/// would block or have effects). Errors name the file.
/// </summary>
public static class ImageFiles
{
    private const int ENOENT = 2, ELOOP = 40, EACCES = 13;

    public static SafeFileHandle OpenRead(string dir, string name)
    {
        if (ImageFileName.TryParse(name) is null)
            throw new ImageException(ManifestRules.Printable(name), null, "not an amdgpu image file name");
        var path = Path.Combine(dir, name);
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
        var fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC | Libc.O_NOFOLLOW | Libc.O_NONBLOCK);
        if (fd < 0)
        {
            var errno = Libc.LastErrno;
            throw errno switch
            {
                ENOENT => new ImageException(name, null, "missing: the manifest lists it but the image directory has no such file"),
                ELOOP => new ImageException(name, null, "is a symbolic link: image files must be regular files"),
                EACCES => new ImageException(name, null, "cannot be read: permission denied"),
                _ => new ImageException(name, null, $"cannot be opened: errno {errno}"),
            };
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            var mode = TypeAndMode(fd, name);
            if ((mode & Libc.S_IFMT) != Libc.S_IFREG)
                throw new ImageException(name, null, $"is not a regular file (mode 0{Convert.ToString(mode, 8)}): image files must be regular files");
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The SHA-256 (lower-case hex) of one file of the image in <paramref name="dir"/>, read whole: a format 1 image's digest.</summary>
    public static string Sha256(string dir, string name)
    {
        using var handle = OpenRead(dir, name);
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(SegmentIo.BufferSize);
        try
        {
            long at = 0;
            int n;
            while ((n = RandomAccess.Read(handle, buffer, at)) > 0)
            {
                sha.AppendData(buffer, 0, n);
                at += n;
            }
            return Convert.ToHexStringLower(sha.GetHashAndReset());
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Owner read/write only (0600), whatever the umask: BO contents are the process's memory.</summary>
    public const uint FileMode = 0x180;

    /// <summary>Owner only (0700), whatever the umask: nobody else may list or open the image's files.</summary>
    public const uint DirectoryMode = 0x1c0;

    /// <summary>Creates (or opens) a file of an image being written, with <see cref="FileMode"/> set exactly.</summary>
    public static SafeFileHandle OpenWrite(string path, System.IO.FileMode mode, FileAccess access)
    {
        var handle = File.OpenHandle(path, mode, access);
        if (Libc.Fchmod((int)handle.DangerousGetHandle(), FileMode) != 0)
        {
            var errno = Libc.LastErrno;
            handle.Dispose();
            throw new IOException($"{Path.GetFileName(path)}: fchmod 0600 failed: errno {errno}");
        }
        return handle;
    }

    /// <summary>
    /// Why <paramref name="dir"/> cannot take an image, or null when it can: it is created if absent and a file is made
    /// and removed in it, so that a checkpoint is refused before it pauses anything; what this made is removed again.
    /// </summary>
    public static string? UnwritableDirectory(string dir, string what = "images directory")
    {
        var made = dir;
        for (var up = Path.GetDirectoryName(made); up is not null && !Directory.Exists(up) && !File.Exists(up); up = Path.GetDirectoryName(made)) made = up;
        var existed = Directory.Exists(dir);
        try
        {
            if (!existed) Directory.CreateDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"{what} {dir} cannot be created: {Cause(e)}";
        }
        try
        {
            using (new FileStream(Path.Combine(dir, $".gpuckpt-write-check-{Guid.NewGuid():N}"), System.IO.FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"{what} {dir} is not writable: {Cause(e)}";
        }
        finally
        {
            if (!existed && Directory.Exists(made)) Directory.Delete(made, recursive: true);
        }
    }

    /// <summary>The system's reason, without .NET's wording around the path.</summary>
    private static string Cause(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        DirectoryNotFoundException => "a part of its path is not a directory",
        _ => e.Message.Split(" : ", 2)[0].Split(" '", 2)[0].TrimEnd('.').ToLowerInvariant(),
    };

    /// <summary>Creates the image directory (or takes an empty one) and sets <see cref="DirectoryMode"/> exactly.</summary>
    public static void CreateDirectory(string dir)
    {
        Directory.CreateDirectory(dir);
        if (Libc.Chmod(dir, DirectoryMode) != 0) throw new IOException($"{dir}: chmod 0700 failed: errno {Libc.LastErrno}");
    }

    /// <summary>A whole message file, at most <see cref="MessageFiles.MaxFileSize"/> bytes (refused unread above).</summary>
    public static byte[] ReadMessageFile(string dir, string name)
    {
        using var handle = OpenRead(dir, name);
        var length = RandomAccess.GetLength(handle);
        if (length > MessageFiles.MaxFileSize)
            throw new ImageException(name, null, $"{length} bytes: a message file is at most {MessageFiles.MaxFileSize}");
        var bytes = new byte[length];
        SegmentIo.ReadExactly(handle, name, bytes, 0);
        return bytes;
    }

    private static unsafe int TypeAndMode(int fd, string name)
    {
        var buffer = stackalloc byte[256];
        if (Libc.Statx(fd, "", Libc.AT_EMPTY_PATH, Libc.STATX_TYPE, buffer) != 0)
            throw new ImageException(name, null, $"statx failed: errno {Libc.LastErrno}");
        return *(ushort*)(buffer + 28);
    }
}
