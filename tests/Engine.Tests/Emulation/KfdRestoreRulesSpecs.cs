using System.Runtime.CompilerServices;
using Gpuckpt.Emulator;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Engine.Tests.Uapi;
using Xunit;

namespace Gpuckpt.Engine.Tests.Emulation;

/// <summary>
/// The emulated kernel answers RESTORE and RESUME as kfd_chardev.c does: a /dev/kfd file belongs to the process that
/// opened it, so RESTORE rebuilds that process and is refused (EBADF) to a child that only inherited the file; RESTORE
/// refuses zero counts and a device bucket whose drm_fd is not a render node; RESUME of a pid with no KFD process is
/// ESRCH.
/// </summary>
public sealed class KfdRestoreRulesSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-restore-rules-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void Restore_is_bound_to_the_process_that_opened_dev_kfd_and_refused_to_one_that_inherited_it()
    {
        using var sim = new TestSimulator(gpus: 1, idSeed: 29);
        var minor = sim.Server.Topology.Gpus[0].DrmRenderMinor;
        using var kernel = new EmulatedKernel(sim.Server, new EmulatedKernelOptions());
        var run = kernel.Run([Caller(), $"/dev/dri/renderD{minor}"], Timeout);
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Stderr}");
        var got = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToDictionary(f => f[0], f => int.Parse(f[1]));
        Assert.Equal(0, got["get-version"]);
        Assert.Equal(Errno.EBADF, got["inherited-restore"]);
        Assert.Equal(Errno.EBADF, got["inherited-get-version"]);
        Assert.Equal(Errno.EINVAL, got["zero-counts-restore"]);
        Assert.Equal(Errno.EINVAL, got["not-a-render-fd-restore"]);
        Assert.Equal(Errno.ESRCH, got["resume-of-no-kfd-process"]);
        Assert.Equal(Errno.EINVAL, got["own-process-info"]); // the opener's own KFD process has no GPU state to report
        // Only the opener's RESTORE reached the GPU, bound to the opener and issued by its thread; the simulator refused
        // its made-up device (no GPU has id 1).
        var restore = Assert.Single(kernel.Restores);
        Assert.Equal((got["pid"], got["pid"], Errno.EINVAL), (restore.Process, restore.Tid, restore.Errno));
        Assert.Equal(Errno.EINVAL, got["own-restore"]);
        Assert.Equal(Errno.ESRCH, Assert.Single(kernel.Resumes).Errno);
    }

    /// <summary>kfd_restore_caller, built here with gcc against the system's kfd_ioctl.h.</summary>
    private string Caller([CallerFilePath] string here = "")
    {
        var source = Path.Combine(Path.GetDirectoryName(here)!, "kfd_restore_caller.c");
        var exe = Path.Combine(_dir.FullName, "kfd_restore_caller");
        // linux/kfd_ioctl.h includes <drm/drm.h>, which libdrm installs as libdrm/drm.h.
        var include = Directory.CreateDirectory(Path.Combine(_dir.FullName, "include")).FullName;
        File.CreateSymbolicLink(Path.Combine(include, "drm"), CHeaderAbi.LibdrmDir);
        var (rc, _, err) = CHeaderAbi.Exec("gcc", ["-std=gnu11", "-Wall", "-Werror", "-O2", "-isystem", include, "-o", exe, source]);
        Assert.True(rc == 0, $"gcc failed ({rc}) on {source}:\n{err}");
        return exe;
    }
}
