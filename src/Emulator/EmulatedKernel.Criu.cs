namespace Gpuckpt.Emulator;

/// <summary>
/// The emulated kernel's CRIU mode: a taskhost under its seccomp filter starts the program and `criu restore` on
/// command, so both share the one filter and its listener. A task criu restores is criu's child and inherits that
/// filter with its listener: its device requests are served here again, once the image no longer carries the filter
/// itself (a test drops it from the dumped core and seccomp images). `criu dump` runs in the emulator's mount namespace but outside
/// the filter (<see cref="OutsideTheFilter"/>): to dump a task that has a filter, criu suspends it
/// (PTRACE_O_SUSPEND_SECCOMP), which the kernel refuses (EPERM) to a tracer that has a filter itself.
/// </summary>
public sealed partial class EmulatedKernel
{
    /// <summary>/dev/fuse's device number: a misc character device CRIU has no dumper of its own for, as for /dev/kfd.</summary>
    private const string MiscMajor = "10", FuseMinor = "229";

    /// <summary>
    /// The file bound at /dev/dri/renderD<paramref name="minor"/>: the simulator's memory file (mmap of a BO is the
    /// real kernel's), or with <see cref="EmulatedKernelOptions.CharacterDevices"/> a device node of its own, which
    /// CRIU hands to its plugins (DUMP_EXT_FILE) as it would a real render node.
    /// </summary>
    private string RenderFile(uint minor)
    {
        if (!_options.CharacterDevices) return MemoryFile(minor);
        var node = Path.Combine(_dir.FullName, $"renderD{minor}");
        if (!File.Exists(node)) DeviceNode(node);
        return node;
    }

    /// <summary>A character device node (major 10, minor 229): each has an inode of its own, so the emulator tells them apart.</summary>
    private static void DeviceNode(string path)
    {
        var (rc, _, err) = ProcessExec.Run("mknod", ["-m", "0666", path, "c", MiscMajor, FuseMinor], TimeSpan.FromSeconds(60));
        if (rc != 0) throw new IOException($"mknod {path} c {MiscMajor} {FuseMinor}: {err.Trim()}");
    }

    /// <summary>
    /// <paramref name="command"/> as run by a process outside the filter (a taskhost of the test's own) in the mount
    /// namespace of <paramref name="inside"/>, where the emulated /dev/kfd and render nodes are.
    /// </summary>
    public static string[] OutsideTheFilter(TaskHost inside, params string[] command) =>
        ["nsenter", $"--mount=/proc/{inside.Pid}/ns/mnt", "--", .. command];

    /// <summary>A taskhost running under this kernel; ending it ends the launcher.</summary>
    public TaskHost Serve(TimeSpan timeout)
    {
        var launcherErr = Launch([EmulatorPrograms.TaskHost], []);
        var launcher = _launcher!;
        return new TaskHost(launcher.StandardInput, launcher.StandardOutput, timeout, () =>
        {
            launcher.StandardInput.Close(); // the taskhost kills and reaps what it started, then kfdemu reports its end
            if (!launcher.WaitForExit(timeout))
            {
                launcher.Kill(entireProcessTree: true);
                throw new TimeoutException($"the taskhost under the emulated kernel did not end in {timeout}: {launcherErr.Result}");
            }
            Stop();
        });
    }
}
