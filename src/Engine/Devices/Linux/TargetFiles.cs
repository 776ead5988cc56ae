namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>
/// A target process's open device files, found through /proc/PID/fd and taken over with pidfd_getfd, because the
/// KFD and render-node CRIU ioctls act on the process that owns the open file, not on whoever opens the device anew.
/// </summary>
internal static class TargetFiles
{
    private const string PtraceHint =
        "the CRIU ops act on a target the checkpointer is ptrace-attached to (as CRIU attaches); " +
        "reading its fds needs ptrace-attach rights over it (same user and ptrace_scope, or CAP_SYS_PTRACE)";

    /// <summary>The target's fd numbers and the paths they link to.</summary>
    public static IEnumerable<(int Fd, string Target)> Links(string proc, uint pid)
    {
        var dir = Path.Combine(proc, pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "fd");
        string[] entries;
        try
        {
            if (!Directory.Exists(Path.GetDirectoryName(dir)))
                throw new DriverException(Errno.ESRCH, "open", $"pid {pid}", detail: "no such process");
            entries = Directory.GetFileSystemEntries(dir);
        }
        catch (UnauthorizedAccessException)
        {
            throw new DriverException(Errno.EACCES, "list fds", dir, detail: PtraceHint);
        }
        catch (DirectoryNotFoundException)
        {
            throw new DriverException(Errno.ESRCH, "open", $"pid {pid}", detail: "no such process");
        }
        foreach (var entry in entries)
        {
            if (!int.TryParse(Path.GetFileName(entry), out var fd)) continue;
            string? target;
            try
            {
                target = new FileInfo(entry).LinkTarget;
            }
            catch (IOException)
            {
                continue; // closed between listing and reading
            }
            catch (UnauthorizedAccessException)
            {
                throw new DriverException(Errno.EACCES, "readlink", entry, detail: PtraceHint);
            }
            if (target is not null) yield return (fd, target);
        }
    }

    /// <summary>The minors of the render nodes under <paramref name="dri"/> the target has open.</summary>
    public static IReadOnlyList<uint> RenderMinors(string proc, string dri, uint pid)
    {
        var prefix = Path.Combine(dri, "renderD");
        return Links(proc, pid)
            .Select(l => l.Target.StartsWith(prefix, StringComparison.Ordinal) && uint.TryParse(l.Target.AsSpan(prefix.Length), out var m) ? m : (uint?)null)
            .OfType<uint>().Distinct().Order().ToArray();
    }

    /// <summary>A duplicate, in this process, of the target's fd open on <paramref name="device"/>; the caller closes it.</summary>
    public static int Take(string proc, uint pid, string device)
    {
        var found = Links(proc, pid).Where(l => l.Target == device).Select(l => (int?)l.Fd).FirstOrDefault()
            ?? throw new DriverException(Errno.ESRCH, "open", device, detail: $"process {pid} has no {device} open");
        var pidfd = LinuxSyscalls.PidfdOpen(pid);
        if (pidfd < 0)
        {
            var errno = LinuxSyscalls.LastErrno;
            throw new DriverException(errno, "pidfd_open", $"pid {pid}", detail: errno == Errno.ESRCH ? "no such process" : null);
        }
        var fd = LinuxSyscalls.PidfdGetfd(pidfd, found);
        var getfdErrno = fd < 0 ? LinuxSyscalls.LastErrno : 0;
        if (Native.Libc.Close(pidfd) != 0)
        {
            var closeErrno = Native.Libc.LastErrno;
            if (fd >= 0) Native.Libc.Close(fd); // already failing: the close error above is the one to report
            throw new DriverException(closeErrno, "close", $"pidfd of pid {pid}");
        }
        if (fd < 0)
            throw new DriverException(getfdErrno, "pidfd_getfd", $"{device} (fd {found} of pid {pid})",
                detail: getfdErrno is Errno.EPERM or Errno.EACCES ? PtraceHint : null);
        return fd;
    }
}
