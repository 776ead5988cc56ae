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

    /// <summary>
    /// The target's distinct open files of render nodes under <paramref name="dri"/>, each with its lowest fd, in
    /// minor and fd order. A process may open a node more than once (each open file has its own GEM handles); fds
    /// that kcmp finds to be one open file (dup'ed) are one.
    /// </summary>
    public static IReadOnlyList<(RenderFileRef File, int Fd)> RenderFiles(string proc, string dri, uint pid)
    {
        var prefix = Path.Combine(dri, "renderD");
        var byMinor = Links(proc, pid)
            .Select(l => (l.Fd, Minor: l.Target.StartsWith(prefix, StringComparison.Ordinal) && uint.TryParse(l.Target.AsSpan(prefix.Length), out var m) ? m : (uint?)null))
            .Where(x => x.Minor is not null)
            .GroupBy(x => x.Minor!.Value)
            .OrderBy(g => g.Key);
        var files = new List<(RenderFileRef, int)>();
        foreach (var minor in byMinor)
        {
            var firsts = new List<int>();
            foreach (var fd in minor.Select(x => x.Fd).Order())
                if (!firsts.Any(first => SameFile(pid, first, fd))) firsts.Add(fd);
            files.AddRange(firsts.Select((fd, i) => (new RenderFileRef(minor.Key, i), fd)));
        }
        return files;
    }

    private static bool SameFile(uint pid, int a, int b)
    {
        var rc = LinuxSyscalls.SameFile(pid, a, b);
        if (rc >= 0) return rc == 0;
        var errno = LinuxSyscalls.LastErrno;
        throw new DriverException(errno, "kcmp(KCMP_FILE)", $"fds {a} and {b} of pid {pid}", detail: errno switch
        {
            Errno.EPERM or Errno.EACCES => PtraceHint,
            Errno.ENOSYS => "the kernel lacks kcmp (CONFIG_KCMP), needed to tell a process's render files apart",
            _ => null,
        });
    }

    /// <summary>A duplicate, in this process, of the target's fd open on <paramref name="device"/>; the caller closes it.</summary>
    public static int Take(string proc, uint pid, string device)
    {
        var found = Links(proc, pid).Where(l => l.Target == device).Select(l => (int?)l.Fd).FirstOrDefault()
            ?? throw new DriverException(Errno.ESRCH, "open", device, detail: $"process {pid} has no {device} open");
        return TakeFd(pid, found, device);
    }

    /// <summary>A duplicate, in this process, of the target's fd <paramref name="found"/> (open on <paramref name="device"/>).</summary>
    public static int TakeFd(uint pid, int found, string device)
    {
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
