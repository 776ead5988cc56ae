using Gpuckpt.Host;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Devices.Linux;
using Gpuckpt.Engine.Native;
using Gpuckpt.Engine.Uapi;
using Xunit;

namespace Gpuckpt.Engine.Tests.Devices;

public sealed class KfdDriverSpecs : IDisposable
{
    private const string AllCaps = "CapEff:\t000001ffffffffff";
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-kfd-");
    private readonly List<IDisposable> _open = [];
    private readonly List<System.Diagnostics.Process> _targets = [];

    public void Dispose()
    {
        foreach (var d in _open) d.Dispose();
        foreach (var p in _targets)
        {
            p.Kill();
            p.WaitForExit();
            p.Dispose();
        }
        _dir.Delete(recursive: true);
    }

    /// <summary>
    /// Another process holding <paramref name="path"/> open as fd 3, as a GPU process holds /dev/kfd: KFD takes CRIU ops
    /// only from the target's ptrace parent, and a process cannot trace itself.
    /// </summary>
    private uint Target(string path)
    {
        var start = new System.Diagnostics.ProcessStartInfo("sh") { RedirectStandardOutput = true };
        foreach (var a in new[] { "-c", "exec 3<>\"$0\"; echo ready; exec sleep 600", path }) start.ArgumentList.Add(a);
        var p = System.Diagnostics.Process.Start(start)!;
        _targets.Add(p);
        Assert.Equal("ready", p.StandardOutput.ReadLine());
        return (uint)p.Id;
    }

    private string Status(string capEff)
    {
        var path = Path.Combine(_dir.FullName, $"status-{Guid.NewGuid():n}");
        File.WriteAllText(path, $"Name:\ttest\nUid:\t0\t0\t0\t0\n{capEff}\nCapBnd:\t000001ffffffffff\n");
        return path;
    }

    /// <summary>A stand-in device file with seeded contents, held open by this process as a target would hold it.</summary>
    private (string Path, byte[] Bytes, FileStream Held) Device(string name, int size, int seed)
    {
        var path = Path.Combine(_dir.FullName, name);
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        var held = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        _open.Add(held);
        return (path, bytes, held);
    }

    /// <summary>A driver over stand-in files: the device checks were made by Open, these specs drive what follows.</summary>
    private KfdDriver Driver(KfdDriverPaths paths, string? open = null)
    {
        var fd = Libc.Open(open ?? paths.Kfd, Libc.O_RDWR | Libc.O_CLOEXEC);
        Assert.True(fd >= 0, $"open {open ?? paths.Kfd}: errno {Libc.LastErrno}");
        var driver = new KfdDriver(paths, fd, new KfdIoctlGetVersionArgs { major_version = 1, minor_version = 17 });
        _open.Add(driver);
        return driver;
    }

    [Fact]
    public void Open_without_dev_kfd_says_there_is_no_AMD_GPU()
    {
        var missing = Path.Combine(_dir.FullName, "kfd");
        var e = Assert.Throws<DriverException>(() => KfdDriver.Open(new KfdDriverPaths { Kfd = missing }));
        Assert.Equal(Errno.ENOENT, e.ErrorNumber);
        Assert.Equal($"open on {missing} failed: ENOENT: no AMD GPU: {missing} not found", e.Message);
    }

    [Fact]
    public void The_kfd_driver_on_this_machine_opens_or_refuses_clearly()
    {
        if (!File.Exists("/dev/kfd"))
        {
            var e = Assert.Throws<DriverException>(() => Drivers.Open("kfd"));
            Assert.Equal("open on /dev/kfd failed: ENOENT: no AMD GPU: /dev/kfd not found", e.Message);
            return;
        }
        try
        {
            using var driver = Drivers.Open("kfd");
            Assert.Equal("kfd", driver.Name);
        }
        catch (DriverException e)
        {
            Assert.Matches("CAP_CHECKPOINT_RESTORE|checkpointing needs|EACCES", e.Message);
        }
    }

    [Fact]
    public void Open_without_the_capability_names_CAP_CHECKPOINT_RESTORE_and_CAP_SYS_ADMIN()
    {
        var (kfd, _, _) = Device("kfd", 4096, 1);
        var e = Assert.Throws<DriverException>(() =>
            KfdDriver.Open(new KfdDriverPaths { Kfd = kfd, SelfStatus = Status("CapEff:\t00000000a80425fb") }));
        Assert.Equal(Errno.EPERM, e.ErrorNumber);
        Assert.Equal($"open on {kfd} failed: EPERM: the KFD CRIU ops need CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN " +
                     "(effective capabilities 0xa80425fb)", e.Message);
    }

    [Fact]
    public void Open_issues_AMDKFD_IOC_GET_VERSION_and_reports_its_errno()
    {
        // A regular file answers every ioctl with ENOTTY: the real call was made and its result checked.
        var (kfd, _, _) = Device("kfd", 4096, 2);
        var e = Assert.Throws<DriverException>(() => KfdDriver.Open(new KfdDriverPaths { Kfd = kfd, SelfStatus = Status(AllCaps) }));
        Assert.Equal(Errno.ENOTTY, e.ErrorNumber);
        Assert.Equal($"AMDKFD_IOC_GET_VERSION on {kfd} failed: ENOTTY", e.Message);
    }

    [Fact]
    public void OpenKfd_takes_over_the_targets_own_kfd_file_and_issues_ioctls_on_it()
    {
        var (kfd, _, _) = Device("kfd", 4096, 3);
        var driver = Driver(new KfdDriverPaths { Kfd = kfd, Dri = _dir.FullName });
        var target = Target(kfd);

        using var file = driver.OpenKfd(target);
        var version = new KfdIoctlGetVersionArgs();
        var args = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.ProcessInfo };

        Assert.Equal(target, file.Pid);
        // KFD takes CRIU ops only from the target's ptrace parent: a thread of this process seized it.
        var tracer = TracerOf(target);
        Assert.True(tracer != 0 && Directory.Exists($"/proc/self/task/{tracer}"), $"pid {target} is traced by {tracer}, not by a thread of this process");
        Assert.Equal(Errno.ENOTTY, file.GetVersion(ref version));
        Assert.Equal(Errno.ENOTTY, file.CriuOp(ref args, [], [], []));

        // Disposed, the file has let the target go: another checkpointer may seize it at once.
        file.Dispose();
        Assert.Equal(0u, TracerOf(target));
        using var again = driver.OpenKfd(target);
    }

    private static uint TracerOf(uint pid) =>
        File.ReadLines($"/proc/{pid}/status").Where(l => l.StartsWith("TracerPid:", StringComparison.Ordinal))
            .Select(l => uint.Parse(l.AsSpan(10).Trim())).Single();

    [Fact]
    public void OpenKfd_of_a_process_already_traced_by_another_says_who_traces_it()
    {
        var (kfd, _, _) = Device("kfd", 4096, 23);
        var driver = Driver(new KfdDriverPaths { Kfd = kfd, Dri = _dir.FullName });
        var target = Target(kfd);
        using var first = driver.OpenKfd(target);
        var tracer = TracerOf(target);

        var e = Assert.Throws<DriverException>(() => driver.OpenKfd(target));

        Assert.Equal(Errno.EPERM, e.ErrorNumber);
        Assert.Equal($"PTRACE_SEIZE on pid {target} failed: EPERM: it is already traced by pid {tracer}; KFD takes CRIU ops only from the one ptrace parent", e.Message);
    }

    [Fact]
    public void CriuOp_refuses_counts_larger_than_the_buffers_before_the_kernel_writes_past_them()
    {
        var (kfd, _, _) = Device("kfd", 4096, 4);
        var driver = Driver(new KfdDriverPaths { Kfd = kfd });
        using var file = driver.OpenKfd(Target(kfd));
        var args = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.Checkpoint, num_devices = 2, num_bos = 3, priv_data_size = 64 };

        Assert.Equal(Errno.EINVAL, file.CriuOp(ref args, new KfdCriuDeviceBucket[2], new KfdCriuBoBucket[2], new byte[64]));
        Assert.Equal(Errno.ENOTTY, file.CriuOp(ref args, new KfdCriuDeviceBucket[2], new KfdCriuBoBucket[3], new byte[64]));
        Assert.NotEqual(0UL, args.bos);
    }

    [Fact]
    public void OpenKfd_of_a_process_without_dev_kfd_is_ESRCH_naming_the_process()
    {
        // The driver holds a different file open, so nothing in this process links to the kfd path.
        var kfd = Path.Combine(_dir.FullName, "kfd-never-opened");
        File.WriteAllText(kfd, "not a device");
        var driver = Driver(new KfdDriverPaths { Kfd = kfd }, open: Device("other", 4096, 5).Path);
        var pid = (uint)Environment.ProcessId;

        var e = Assert.Throws<DriverException>(() => driver.OpenKfd(pid));

        Assert.Equal(Errno.ESRCH, e.ErrorNumber);
        Assert.Equal($"open on {kfd} failed: ESRCH: process {pid} has no {kfd} open", e.Message);
    }

    [Fact]
    public void OpenKfd_of_a_process_that_does_not_exist_is_ESRCH()
    {
        var driver = Driver(new KfdDriverPaths { Kfd = Device("kfd", 4096, 7).Path });
        var e = Assert.Throws<DriverException>(() => driver.OpenKfd(int.MaxValue - 7));
        Assert.Equal(Errno.ESRCH, e.ErrorNumber);
        Assert.Contains("no such process", e.Message);
    }

    [Fact]
    public void Render_nodes_of_a_process_are_found_in_its_fd_links_one_entry_per_open_file()
    {
        var driver = Driver(new KfdDriverPaths { Kfd = Device("kfd", 4096, 8).Path, Dri = _dir.FullName });
        Device("renderD129", 4096, 9);
        Device("renderD128", 4096, 10);
        // Opened again: a second open file of the node, with handles of its own.
        var (again, _, _) = Device("renderD128", 4096, 11);
        Device("card0", 4096, 12);
        var pid = (uint)Environment.ProcessId;
        var before = driver.RenderFilesOpenedBy(pid);

        Assert.Equal([128u, 129u], driver.RenderMinorsOpenedBy(pid));
        Assert.Equal([new RenderFileRef(128, 0), new RenderFileRef(128, 1), new RenderFileRef(129, 0)], before);
        // Another fd of an open file that is there already (as dup gives) is no further file.
        using (var node = driver.OpenRenderFile(pid, new RenderFileRef(128, 1)))
            Assert.Equal(before, driver.RenderFilesOpenedBy(pid));
    }

    [Fact]
    public void A_BO_is_mapped_through_the_render_node_file_taken_from_the_target()
    {
        var driver = Driver(new KfdDriverPaths { Kfd = Device("kfd", 4096, 13).Path, Dri = _dir.FullName });
        const int pages = 5;
        var (_, bytes, _) = Device("renderD130", pages * 4096, 14);

        using var node = driver.OpenRenderNode((uint)Environment.ProcessId, 130);
        using var mapping = driver.MapBo(130, 4096, 3 * 4096, writable: true);
        var read = new byte[3 * 4096];
        mapping.Read(0, read);
        Assert.Equal(bytes.AsSpan(4096, 3 * 4096).ToArray(), read);

        var patch = new byte[777];
        new Random(15).NextBytes(patch);
        mapping.Write(1000, patch);
        mapping.Dispose();
        Assert.Equal(patch, File.ReadAllBytes(Path.Combine(_dir.FullName, "renderD130")).AsSpan(4096 + 1000, 777).ToArray());

        var close = new DrmGemClose { handle = 1 };
        Assert.Equal(Errno.ENOTTY, node.GemClose(ref close));
        var info = new DrmAmdgpuGemListHandles { num_entries = 4 };
        Assert.Equal(Errno.EINVAL, node.GemListHandles(ref info, new DrmAmdgpuGemListHandlesEntry[2]));
        Assert.Equal(Errno.ENOTTY, node.GemListHandles(ref info, new DrmAmdgpuGemListHandlesEntry[4]));
    }

    [Fact]
    public void MapBo_before_the_render_node_is_open_says_so()
    {
        var driver = Driver(new KfdDriverPaths { Kfd = Device("kfd", 4096, 16).Path, Dri = _dir.FullName });
        var e = Assert.Throws<DriverException>(() => driver.MapBo(131, 0x10000, 4096, writable: false));
        Assert.Equal(Errno.EBADF, e.ErrorNumber);
        Assert.Contains($"mmap on {Path.Combine(_dir.FullName, "renderD131")} (offset 0x10000 size 4096) failed: EBADF", e.Message);
        Assert.Contains("OpenRenderNode", e.Message);
    }

    [Fact]
    public void Dmabuf_inode_identifies_the_file_behind_an_fd()
    {
        var driver = Driver(new KfdDriverPaths { Kfd = Device("kfd", 4096, 17).Path, Dri = _dir.FullName });
        var (a, _, heldA) = Device("renderD132", 4096, 18);
        var (_, _, heldB) = Device("renderD133", 4096, 19);
        using var node = driver.OpenRenderNode((uint)Environment.ProcessId, 132);

        var mine = driver.DmabufInode((int)heldA.SafeFileHandle.DangerousGetHandle());
        var taken = driver.DmabufInode(node.Fd);
        var other = driver.DmabufInode((int)heldB.SafeFileHandle.DangerousGetHandle());

        Assert.Equal(mine, taken);
        Assert.NotEqual(mine, other);
        Assert.NotEqual(0UL, mine);
        Assert.True(File.Exists(a));
    }

    [Fact]
    public void CloseFd_closes_and_a_bad_fd_is_EBADF_naming_it()
    {
        var driver = Driver(new KfdDriverPaths { Kfd = Device("kfd", 4096, 20).Path });
        var (path, _, _) = Device("dmabuf", 4096, 21);
        var fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC);
        Assert.True(fd >= 0, $"open: errno {Libc.LastErrno}");

        driver.CloseFd(fd);

        // The number may already be reused by another test's file, but never for this one.
        Assert.NotEqual(path, new FileInfo($"/proc/self/fd/{fd}").LinkTarget);
        var e = Assert.Throws<DriverException>(() => driver.CloseFd(-1));
        Assert.Equal("close on fd -1 failed: EBADF", e.Message);
    }

    [Fact]
    public void CreateRestoreTarget_says_a_real_restore_runs_inside_the_restored_process()
    {
        var driver = Driver(new KfdDriverPaths { Kfd = Device("kfd", 4096, 22).Path });
        var e = Assert.Throws<DriverException>(() => driver.CreateRestoreTarget());
        Assert.Equal(Errno.EOPNOTSUPP, e.ErrorNumber);
        Assert.Equal($"create restore target on kfd failed: EOPNOTSUPP: {KfdDriver.RestoreRefusal}", e.Message);
    }
}
