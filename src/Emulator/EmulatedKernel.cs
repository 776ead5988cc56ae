using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Emulator;

/// <summary>
/// A kernel for the real <c>--driver kfd</c> backend on a machine without an AMD GPU. <c>kfdemu</c> (C, built here with
/// gcc) gives the command a mount namespace where /dev/kfd, /dev/dri/renderD* and the KFD sysfs topology exist, starts
/// stand-in processes holding those files as the simulated GPU processes would, and runs the command under a seccomp
/// filter that sends every KFD and DRM ioctl here. This supervisor answers them from the simulator's model, through the
/// same wire as the simulator's own client, reading and writing the caller's memory where the arguments point. Render
/// files are the simulator's GPU memory files, so mmap of a BO is the real kernel's; dmabuf fds are memfds (one per
/// buffer) installed in the caller with SECCOMP_IOCTL_NOTIF_ADDFD. KFD's rules hold: CRIU ops only from the target's
/// ptrace parent and with CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN, GET_VERSION only on one's own file, RESTORE only by
/// the process the file belongs to (it rebuilds that process), RESUME by pid.
/// </summary>
public sealed partial class EmulatedKernel : IDisposable
{
    /// <summary>The kfdemu executable, built with gpuckpt.</summary>
    internal static string LauncherPath => EmulatorPrograms.Kfdemu;
    private readonly SimulatorServer _sim;
    private readonly SimulatorClient _client;
    private readonly EmulatedKernelOptions _options;
    private readonly DirectoryInfo _dir;
    private readonly List<StandIn> _standIns = [];
    private readonly Dictionary<int, StandIn> _own = new();
    private readonly List<(int Copy, int Tgid)> _ownKfdFiles = [];
    private readonly List<(int Copy, int Tgid)> _ownRenderFiles = [];
    private readonly ConcurrentQueue<(int Process, int Tid, uint SimPid, int Errno)> _restores = new();
    private readonly ConcurrentQueue<(int Pid, int Tid, int Errno)> _resumes = new();
    private readonly ConcurrentQueue<(KfdCriuOp, string)> _threadsAtCriuOps = new();
    private readonly Dictionary<ulong, (int Memfd, int SimFd)> _dmabufs = new();
    private readonly Dictionary<(ulong Dev, ulong Ino), uint> _renderMinorOf = new();
    private readonly ConcurrentDictionary<uint, int> _requests = new();
    private readonly ConcurrentQueue<(ulong Offset, int Errno)> _renderMmaps = new();
    private readonly (ulong Dev, ulong Ino) _kfdId;
    private Process? _launcher;
    private int _listener = -1;
    private Thread? _supervisor;
    private volatile bool _stopping;

    private sealed record StandIn(string Name, uint SimPid, int Pid, int KfdFd, IReadOnlyList<(uint Minor, int Fd)> RenderFds)
    {
        /// <summary>The simulator's file for each of this stand-in's render files, by node and file index.</summary>
        public Dictionary<(uint Minor, int Index), IRenderNode> SimNodes { get; } = new();
    }

    public EmulatedKernel(SimulatorServer sim, EmulatedKernelOptions options)
    {
        _sim = sim;
        _options = options;
        _client = SimulatorClient.Connect(sim.SocketPath);
        _dir = Directory.CreateTempSubdirectory("gpuckpt-kfdemu-");
        var kfd = Path.Combine(_dir.FullName, "kfd");
        if (options.CharacterDevices || options.KfdCharacterDevice) DeviceNode(kfd);
        else File.WriteAllBytes(kfd, []);
        _kfdId = SeccompNative.FileId(kfd) ?? throw new IOException($"{kfd} vanished");
        KfdSysfsTree.Write(Path.Combine(_dir.FullName, "topology"), sim.Topology);
        foreach (var g in sim.Topology.Gpus)
            _renderMinorOf[SeccompNative.FileId(RenderFile(g.DrmRenderMinor)) ?? throw new IOException("no render file")] = g.DrmRenderMinor;
    }

    /// <summary>
    /// At each CRIU op on a stand-in's KFD file: the op and the state letter of each of that stand-in's threads
    /// (/proc/PID/task/*/stat; 't' is a ptrace stop).
    /// </summary>
    public IReadOnlyList<(KfdCriuOp Op, string Threads)> ThreadsAtCriuOps => [.. _threadsAtCriuOps];

    /// <summary>The pid of stand-in <paramref name="name"/>.</summary>
    public int PidOf(string name) => _standIns.Single(s => s.Name == name).Pid;

    /// <summary>Each KFD RESTORE on a process's own file: the process it rebuilt, the thread that issued it, the simulated process that plays it, its errno.</summary>
    public IReadOnlyList<(int Process, int Tid, uint SimPid, int Errno)> Restores => [.. _restores];

    /// <summary>Each KFD RESUME on a process's own file: the pid it named, the thread that issued it, its errno.</summary>
    public IReadOnlyList<(int Pid, int Tid, int Errno)> Resumes => [.. _resumes];

    /// <summary>Every mmap of a render file that reached this kernel: the offset and the errno it got (0: mapped).</summary>
    public IReadOnlyList<(ulong Offset, int Errno)> RenderMmaps => [.. _renderMmaps];

    /// <summary>All stand-ins' and this emulator's device requests, by request number.</summary>
    public IReadOnlyDictionary<uint, int> Requests => _requests;

    private string MemoryFile(uint minor) => Path.Combine(_sim.MemoryDir, $"renderD{minor}.mem");

    /// <summary>Runs <paramref name="command"/> (an argument "@name" is that stand-in's pid) and waits for it to end.</summary>
    public EmulatedRun Run(IReadOnlyList<string> command, TimeSpan timeout) => RunAll([command], timeout)[0];

    /// <summary>
    /// Runs <paramref name="commands"/> one after the other against the same stand-ins (a checkpointer killed midway,
    /// then its resume) and waits for them all; each run's <see cref="EmulatedRun.Requests"/> counts the whole session.
    /// </summary>
    public IReadOnlyList<EmulatedRun> RunAll(IReadOnlyList<IReadOnlyList<string>> commands, TimeSpan timeout)
    {
        var stdout = Path.Combine(_dir.FullName, "stdout");
        var stderr = Path.Combine(_dir.FullName, "stderr");
        var launcherErr = Launch([.. commands.SelectMany((c, i) => i == 0 ? c : ["--then", .. c])], ["--stdout", stdout, "--stderr", stderr]);

        if (!_launcher!.WaitForExit(timeout))
        {
            _launcher.Kill(entireProcessTree: true);
            throw new TimeoutException($"{string.Join(' ', commands[0])} did not finish in {timeout}; stderr: {File.ReadAllText(stderr)}");
        }
        _launcher.WaitForExit();
        var rest = _launcher.StandardOutput.ReadToEnd();
        var exits = rest.Split('\n').Where(x => x.StartsWith("exit ", StringComparison.Ordinal)).Select(x => int.Parse(x[5..])).ToList();
        if (exits.Count != commands.Count)
            throw new InvalidOperationException($"kfdemu reported {exits.Count} of {commands.Count} commands ended: {launcherErr.Result}");
        Stop();
        var requests = new Dictionary<uint, int>(_requests);
        return [.. exits.Select((code, i) => new EmulatedRun(code, ReadIfAny(i == 0 ? stdout : $"{stdout}.{i}"), ReadIfAny(i == 0 ? stderr : $"{stderr}.{i}"), requests))];
    }

    private static string ReadIfAny(string path) => File.Exists(path) ? File.ReadAllText(path) : "";

    /// <summary>Starts kfdemu running <paramref name="command"/> and the supervisor on its listener; kfdemu's stderr, read to its end.</summary>
    private Task<string> Launch(IReadOnlyList<string> command, IReadOnlyList<string> redirects)
    {
        var start = new ProcessStartInfo(LauncherPath) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        var args = new List<string> { "--topology", Path.Combine(_dir.FullName, "topology") };
        args.AddRange(redirects);
        if (!_options.WithoutKfd) args.AddRange(["--kfd", Path.Combine(_dir.FullName, "kfd")]);
        foreach (var g in _sim.Topology.Gpus) args.AddRange(["--render", $"{g.DrmRenderMinor}={RenderFile(g.DrmRenderMinor)}"]);
        foreach (var (name, simPid) in _options.Targets)
            args.AddRange(["--target", $"{name}:{string.Join(",", _client.RenderFilesOpenedBy(simPid).Select(f => f.Minor))}{(_options.DupRenderFds ? "+dup" : "")}{(_options.ThreadedTargets ? "+threads" : "")}"]);
        foreach (var (name, file) in _options.Counters) args.AddRange(["--counter", $"{name}={Path.GetFullPath(file)}"]);
        if (_options.DropCapabilities) args.Add("--drop-caps");
        args.Add("--");
        args.AddRange(command);
        foreach (var a in args) start.ArgumentList.Add(a);
        _launcher = Process.Start(start) ?? throw new InvalidOperationException("kfdemu did not start");
        var launcherErr = _launcher.StandardError.ReadToEndAsync();

        string? line;
        while ((line = _launcher.StandardOutput.ReadLine()) is not null && !line.StartsWith("listener ", StringComparison.Ordinal))
        {
            var f = line.Split(' ');
            if (f[0] != "target") throw new InvalidOperationException($"kfdemu: unexpected '{line}'");
            var simPid = _options.Targets.Single(t => t.Name == f[1]).SimPid;
            var renders = f.Skip(4).Select(x => x.Split('=')).Select(x => (uint.Parse(x[0]), int.Parse(x[1]))).ToList();
            _standIns.Add(new StandIn(f[1], simPid, int.Parse(f[2]), int.Parse(f[3]), renders));
        }
        if (line is null) throw new InvalidOperationException($"kfdemu ended before running the command: {launcherErr.Result}");
        var l = line.Split(' ');
        _listener = TakeFd(int.Parse(l[1]), int.Parse(l[2]));
        _supervisor = new Thread(Supervise) { IsBackground = true, Name = "kfdemu supervisor" };
        _supervisor.Start();
        _launcher.StandardInput.WriteLine("go");
        _launcher.StandardInput.Flush();

        return launcherErr;
    }

    private static int TakeFd(int pid, int fd)
    {
        var pidfd = SeccompNative.PidfdOpen(pid);
        if (pidfd < 0) throw new IOException($"pidfd_open({pid}): errno {SeccompNative.LastErrno}");
        var mine = SeccompNative.PidfdGetfd(pidfd, fd);
        var errno = SeccompNative.LastErrno;
        SeccompNative.Close(pidfd);
        return mine >= 0 ? mine : throw new IOException($"pidfd_getfd({pid}, {fd}): errno {errno}");
    }

    // ---- the supervisor ------------------------------------------------------------------------------------------

    private unsafe void Supervise()
    {
        var poll = new PollFd { fd = _listener, events = SeccompNative.PollIn };
        while (!_stopping)
        {
            poll.revents = 0;
            if (SeccompNative.Poll(&poll, 1, 100) <= 0) continue;
            if ((poll.revents & SeccompNative.PollIn) == 0)
            {
                if ((poll.revents & SeccompNative.PollHup) != 0) return; // every filtered task has exited
                continue;
            }
            var notif = new SeccompNotif();
            if (SeccompNative.Ioctl(_listener, SeccompNative.NotifRecv, &notif) != 0) continue; // the caller died meanwhile
            var resp = Answer(notif);
            resp.id = notif.id;
            SeccompNative.Ioctl(_listener, SeccompNative.NotifSend, &resp);
        }
    }

    private unsafe SeccompNotifResp Answer(SeccompNotif n)
    {
        if (n.nr == SeccompNative.SysMmap) return Mmap(n);
        if (n.nr != SeccompNative.SysIoctl) return new SeccompNotifResp { flags = SeccompNative.UserNotifFlagContinue };
        var tid = (int)n.pid;
        var fd = (int)n.args[0];
        var request = (uint)n.args[1];
        var argp = n.args[2];
        try
        {
            var id = SeccompNative.FileId($"/proc/{tid}/fd/{fd}");
            if (id is null) return Error(Errno.EBADF);
            int errno;
            if (id.Value == _kfdId)
                errno = Kfd(n, tid, fd, request, argp);
            else if (_renderMinorOf.TryGetValue(id.Value, out var minor))
            {
                var (owner, index) = FileOf(tid, fd, minor);
                errno = Render(n, tid, owner, minor, index, request, argp);
            }
            else
                return new SeccompNotifResp { flags = SeccompNative.UserNotifFlagContinue }; // not a device of ours: the real kernel answers
            _requests.AddOrUpdate(request, 1, (_, c) => c + 1);
            return errno == 0 ? new SeccompNotifResp() : Error(errno);
        }
        catch (Exception e) when (e is DriverException or IOException or InvalidDataException)
        {
            return Error(e is DriverException d ? d.ErrorNumber : Errno.EIO);
        }
    }

    /// <summary>
    /// mmap of a render file, checked as drm_gem_mmap checks it (the simulator's MapThrough on the file the caller's fd
    /// is): a fake offset where no BO starts is EINVAL, a BO the file is not allowed on EACCES. Any other mmap, and an
    /// allowed one, goes on in the real kernel.
    /// </summary>
    private unsafe SeccompNotifResp Mmap(SeccompNotif n)
    {
        var tid = (int)n.pid;
        var fd = (int)n.args[4];
        var go = new SeccompNotifResp { flags = SeccompNative.UserNotifFlagContinue };
        try
        {
            var id = fd < 0 ? null : SeccompNative.FileId($"/proc/{tid}/fd/{fd}");
            if (id is null || !_renderMinorOf.TryGetValue(id.Value, out var minor)) return go;
            var (owner, index) = FileOf(tid, fd, minor);
            var node = SimNode(owner, minor, index);
            var errno = _client.MapThroughErrno(node.Fd, n.args[5], n.args[1], out _, out _);
            _renderMmaps.Enqueue((n.args[5], errno));
            return errno == 0 ? go : Error(errno);
        }
        catch (Exception e) when (e is DriverException or IOException)
        {
            return Error(e is DriverException d ? d.ErrorNumber : Errno.EIO);
        }
    }

    private static SeccompNotifResp Error(int errno) => new() { error = -errno, val = -1 };

    /// <summary>
    /// Whose render file the caller's fd is, and which of that stand-in's files of the node (distinct open files in fd
    /// order, a dup'ed fd counting once); a file no stand-in holds is file 0 of the process that first used it.
    /// </summary>
    private (StandIn Owner, int Index) FileOf(int tid, int fd, uint minor)
    {
        foreach (var s in _standIns)
        {
            var firsts = new List<int>();
            foreach (var r in s.RenderFds.Where(r => r.Minor == minor))
                if (!firsts.Any(f => SeccompNative.SameFile(s.Pid, f, s.Pid, r.Fd) == 0)) firsts.Add(r.Fd);
            var index = firsts.FindIndex(f => SeccompNative.SameFile(tid, fd, s.Pid, f) == 0);
            if (index >= 0) return (s, index);
        }
        // A DRM file's BOs are the file's, whoever holds it now (a copy taken with pidfd_getfd, say): its process is the
        // one that first used it.
        foreach (var (copy, tgid) in _ownRenderFiles)
            if (SeccompNative.SameFile(Environment.ProcessId, copy, tid, fd) == 0) return (OwnFiles(tgid), 0);
        var mine = Tgid(tid);
        _ownRenderFiles.Add((TakeFd(mine, fd), mine));
        return (OwnFiles(mine), 0);
    }

    /// <summary>Makes the render file <paramref name="fd"/> of <paramref name="tid"/> one of process <paramref name="tgid"/>'s own.</summary>
    private void BindRenderFile(int tid, int fd, int tgid)
    {
        var known = _ownRenderFiles.FindIndex(f => SeccompNative.SameFile(Environment.ProcessId, f.Copy, tid, fd) == 0);
        if (known >= 0) _ownRenderFiles[known] = (_ownRenderFiles[known].Copy, tgid);
        else _ownRenderFiles.Add((TakeFd(Tgid(tid), fd), tgid));
    }

    private IRenderNode SimNode(StandIn owner, uint minor, int index)
    {
        if (!owner.SimNodes.TryGetValue((minor, index), out var node))
            owner.SimNodes[(minor, index)] = node = _client.OpenRenderFile(owner.SimPid, new RenderFileRef(minor, index));
        return node;
    }

    /// <summary>A KFD request, with KFD's rules on who may issue it.</summary>
    private int Kfd(SeccompNotif n, int tid, int fd, uint request, ulong argp)
    {
        var owner = _standIns.FirstOrDefault(s => SeccompNative.SameFile(tid, fd, s.Pid, s.KfdFd) == 0);
        var own = owner is null; // the checkpointer's own /dev/kfd
        if (request == KfdIoctls.GetVersion)
        {
            // Not a CRIU op: only the process that opened the file may ask.
            if (!own || KfdOpener(tid, fd) != Tgid(tid)) return Errno.EBADF;
            var version = new KfdIoctlGetVersionArgs { major_version = KfdDriverVersionMajor, minor_version = _options.KfdMinorVersion };
            return Copy(n, tid, argp, System.Runtime.InteropServices.MemoryMarshal.AsBytes(new Span<KfdIoctlGetVersionArgs>(ref version)).ToArray()) ? 0 : Errno.EFAULT;
        }
        if (request != KfdIoctls.CriuOp) return Errno.ENOTTY;
        if (own) return OwnCriuOp(n, tid, fd, argp);
        if (TracerOf(owner!.Pid) != tid) return Errno.EBADF; // "Using KFD FD in wrong process"
        if (!MayCheckpoint(tid)) return Errno.EACCES;

        var args = new byte[Sizes.Of<KfdIoctlCriuArgs>()];
        if (!SeccompNative.Read(tid, argp, args)) return Errno.EFAULT;
        var a = Unsafe.As<byte, KfdIoctlCriuArgs>(ref args[0]);
        _threadsAtCriuOps.Enqueue(((KfdCriuOp)a.op, ThreadStates(owner.Pid)));
        // kfd_chardev.c: CHECKPOINT refuses a NULL array whatever its count; RESTORE also refuses zero counts.
        if (a.op == (uint)KfdCriuOp.Checkpoint && (a.devices == 0 || a.bos == 0 || a.priv_data == 0)) return Errno.EINVAL;
        if (a.op == (uint)KfdCriuOp.Restore && (a.devices == 0 || a.bos == 0 || a.priv_data == 0 || a.priv_data_size == 0 || a.num_devices == 0 || a.num_bos == 0))
            return Errno.EINVAL;
        return Forward(n, tid, owner.SimPid, request, argp, args, a.op == (uint)KfdCriuOp.ProcessInfo ? owner.Pid : null);
    }

    /// <summary>
    /// A CRIU op on a KFD file no stand-in holds. kfd_chardev.c binds the file's KFD process to the process that opened
    /// it: only that process (or the ptrace parent of its leader) may use it; RESTORE rebuilds that very process, so a
    /// restored task must issue it itself; RESUME names its target by pid (ESRCH where no KFD process has that pid).
    /// </summary>
    private int OwnCriuOp(SeccompNotif n, int tid, int fd, ulong argp)
    {
        var opener = KfdOpener(tid, fd);
        if (opener != Tgid(tid) && TracerOf(opener) != tid) return Errno.EBADF; // "Using KFD FD in wrong process"
        if (!MayCheckpoint(tid)) return Errno.EACCES;
        var args = new byte[Sizes.Of<KfdIoctlCriuArgs>()];
        if (!SeccompNative.Read(tid, argp, args)) return Errno.EFAULT;
        var a = Unsafe.As<byte, KfdIoctlCriuArgs>(ref args[0]);
        switch ((KfdCriuOp)a.op)
        {
            case KfdCriuOp.Restore:
            {
                // kfd_chardev.c: RESTORE refuses NULL arrays and zero counts.
                if (a.devices == 0 || a.bos == 0 || a.priv_data == 0 || a.priv_data_size == 0 || a.num_devices == 0 || a.num_bos == 0)
                    return Errno.EINVAL;
                var devices = new byte[a.num_devices * (ulong)Sizes.Of<KfdCriuDeviceBucket>()];
                if (!SeccompNative.Read(tid, a.devices, devices)) return Errno.EFAULT;
                // criu_restore_devices: each bucket's drm_fd must be a render node file open in the caller.
                foreach (var d in System.Runtime.InteropServices.MemoryMarshal.Cast<byte, KfdCriuDeviceBucket>(devices.AsSpan()))
                    if (SeccompNative.FileId($"/proc/{tid}/fd/{d.drm_fd}") is not { } id || !_renderMinorOf.ContainsKey(id)) return Errno.EINVAL;
                var target = OwnFiles(opener);
                var errno = Forward(n, tid, target.SimPid, KfdIoctls.CriuOp, argp, args);
                // The restored process's GPUs are reached through the render files RESTORE named, whoever used them before.
                if (errno == 0)
                    foreach (var d in System.Runtime.InteropServices.MemoryMarshal.Cast<byte, KfdCriuDeviceBucket>(devices.AsSpan()))
                        BindRenderFile(tid, (int)d.drm_fd, opener);
                _restores.Enqueue((opener, tid, target.SimPid, errno));
                return errno;
            }
            case KfdCriuOp.Resume:
            {
                var errno = _own.TryGetValue((int)a.pid, out var target) ? Forward(n, tid, target.SimPid, KfdIoctls.CriuOp, argp, args) : Errno.ESRCH;
                _resumes.Enqueue(((int)a.pid, tid, errno));
                return errno;
            }
            default:
                return Errno.EINVAL; // the caller's own KFD process has no GPU state to act on
        }
    }

    /// <summary>
    /// The process a KFD file no stand-in holds belongs to: the one that first issued a request on it (this kernel sees
    /// no open, and the file's own process is the first to use it), kept by a copy of the file so that it is known again
    /// through any fd.
    /// </summary>
    private int KfdOpener(int tid, int fd)
    {
        foreach (var (copy, tgid) in _ownKfdFiles)
            if (SeccompNative.SameFile(Environment.ProcessId, copy, tid, fd) == 0) return tgid;
        var mine = Tgid(tid);
        _ownKfdFiles.Add((TakeFd(mine, fd), mine)); // pidfd_open takes a thread group's leader
        return mine;
    }

    private static int Tgid(int tid) => int.Parse(Status(tid, "Tgid:"));

    /// <summary>A CRIU op forwarded to simulated process <paramref name="simPid"/> with the arrays it names, dmabuf fds translated.</summary>
    private int Forward(SeccompNotif n, int tid, uint simPid, uint request, ulong argp, byte[] args, int? pid = null)
    {
        var a = Unsafe.As<byte, KfdIoctlCriuArgs>(ref args[0]);
        var arrays = a.op is (uint)KfdCriuOp.Checkpoint or (uint)KfdCriuOp.Restore;
        var devices = arrays ? new byte[a.num_devices * (ulong)Sizes.Of<KfdCriuDeviceBucket>()] : [];
        var bos = arrays ? new byte[a.num_bos * (ulong)Sizes.Of<KfdCriuBoBucket>()] : [];
        var priv = arrays ? new byte[a.priv_data_size] : [];
        if (!SeccompNative.Read(tid, a.devices, devices) || !SeccompNative.Read(tid, a.bos, bos) || !SeccompNative.Read(tid, a.priv_data, priv))
            return Errno.EFAULT;
        var (errno, outArgs, outDevices, outBos, outPriv) = _client.RawKfdIoctl(simPid, request, args, devices, bos, priv);
        if (errno != 0) return errno;
        if (pid is { } real) Unsafe.As<byte, KfdIoctlCriuArgs>(ref outArgs[0]).pid = (uint)real;
        var buckets = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, KfdCriuBoBucket>(outBos.AsSpan());
        for (var i = 0; i < buckets.Length; i++)
            if (buckets[i].dmabuf_fd != uint.MaxValue)
                buckets[i].dmabuf_fd = (uint)Dmabuf(n, (int)buckets[i].dmabuf_fd);
        var ok = SeccompNative.Write(tid, a.devices, outDevices) && SeccompNative.Write(tid, a.bos, outBos)
                 && SeccompNative.Write(tid, a.priv_data, outPriv) && Copy(n, tid, argp, outArgs);
        return ok ? 0 : Errno.EFAULT;
    }

    private const uint KfdDriverVersionMajor = 1;

    /// <summary>
    /// The render files a process opened itself (the checkpointer's doctor, say): each is a DRM file of its own, empty,
    /// played by a simulated process that never runs.
    /// </summary>
    private StandIn OwnFiles(int tgid)
    {
        if (!_own.TryGetValue(tgid, out var own)) _own[tgid] = own = new StandIn($"own {tgid}", _client.CreateRestoreTarget(), tgid, -1, []);
        return own;
    }

    /// <summary>A DRM request on a render file: forwarded with the array its pointer field names, dmabuf fds translated.</summary>
    private int Render(SeccompNotif n, int tid, StandIn owner, uint minor, int index, uint request, ulong argp)
    {
        if (_options.AbsentIoctls.Any(r => IoctlNumber.Nr(r) == IoctlNumber.Nr(request))) return Errno.EINVAL;
        var node = SimNode(owner, minor, index);
        var args = new byte[IoctlNumber.Size(request)];
        if (!SeccompNative.Read(tid, argp, args)) return Errno.EFAULT;
        var nr = IoctlNumber.Nr(request);
        ulong arrayAt = 0;
        var array = Array.Empty<byte>();
        var callerFd = 0;
        if (nr == IoctlNumber.Nr(DrmIoctls.AmdgpuGemListHandles) && args.Length >= Sizes.Of<DrmAmdgpuGemListHandles>())
        {
            var a = Unsafe.As<byte, DrmAmdgpuGemListHandles>(ref args[0]);
            arrayAt = a.entries;
            array = new byte[a.num_entries * (ulong)Sizes.Of<DrmAmdgpuGemListHandlesEntry>()];
        }
        else if (nr == IoctlNumber.Nr(DrmIoctls.AmdgpuGemOp) && args.Length >= Sizes.Of<DrmAmdgpuGemOp>()
                 && Unsafe.As<byte, DrmAmdgpuGemOp>(ref args[0]).op == AmdgpuGem.GemOpGetMappingInfo)
        {
            var a = Unsafe.As<byte, DrmAmdgpuGemOp>(ref args[0]);
            arrayAt = a.value;
            array = new byte[a.num_entries * (ulong)Sizes.Of<DrmAmdgpuGemVmEntry>()];
        }
        else if (nr == IoctlNumber.Nr(DrmIoctls.PrimeFdToHandle) && args.Length >= Sizes.Of<DrmPrimeHandle>())
        {
            callerFd = Unsafe.As<byte, DrmPrimeHandle>(ref args[0]).fd;
            var inode = SeccompNative.FileId($"/proc/{tid}/fd/{callerFd}")?.Ino;
            var known = _dmabufs.Values.FirstOrDefault(d => SeccompNative.FileId($"/proc/self/fd/{d.Memfd}")?.Ino == inode);
            if (inode is null || known == default) return Errno.EBADF;
            Unsafe.As<byte, DrmPrimeHandle>(ref args[0]).fd = known.SimFd;
        }
        else if (nr == IoctlNumber.Nr(DrmIoctls.AmdgpuCs) && args.Length >= Sizes.Of<DrmAmdgpuCs>())
        {
            var chunks = SubmissionChunks(tid, Unsafe.As<byte, DrmAmdgpuCs>(ref args[0]), out var chunkErrno);
            if (chunks is null) return chunkErrno;
            var (csErrno, csOut, _) = _client.RawRenderIoctl(node.Fd, request, args, chunks);
            return csErrno != 0 ? csErrno : Copy(n, tid, argp, csOut) ? 0 : Errno.EFAULT;
        }
        if (!SeccompNative.Read(tid, arrayAt, array)) return Errno.EFAULT;
        var (errno, outArgs, outArray) = _client.RawRenderIoctl(node.Fd, request, args, array);
        if (errno != 0) return errno;
        if (nr == IoctlNumber.Nr(DrmIoctls.PrimeHandleToFd))
        {
            ref var prime = ref Unsafe.As<byte, DrmPrimeHandle>(ref outArgs[0]);
            prime.fd = Dmabuf(n, prime.fd);
        }
        if (nr == IoctlNumber.Nr(DrmIoctls.PrimeFdToHandle)) Unsafe.As<byte, DrmPrimeHandle>(ref outArgs[0]).fd = callerFd;
        var copyOut = (request >> 30 & IoctlNumber.Read) != 0;
        return SeccompNative.Write(tid, arrayAt, outArray) && (!copyOut || Copy(n, tid, argp, outArgs)) ? 0 : Errno.EFAULT;
    }

    /// <summary>
    /// A CS's chunks read from the caller as amdgpu_cs_pass1 reads them (an array of chunk pointers, each chunk's data
    /// of length_dw dwords): the IB chunks and the BO list's handles, in the simulator's wire form; null with the errno
    /// the kernel gives (EFAULT for memory it cannot read, EINVAL for a chunk it does not know or too short).
    /// </summary>
    private static byte[]? SubmissionChunks(int tid, DrmAmdgpuCs cs, out int errno)
    {
        errno = Errno.EINVAL;
        if (cs.num_chunks == 0) return null;
        var pointers = new byte[cs.num_chunks * 8UL];
        errno = Errno.EFAULT;
        if (!SeccompNative.Read(tid, cs.chunks, pointers)) return null;
        var ibs = new List<DrmAmdgpuCsChunkIb>();
        var handles = new List<uint>();
        foreach (var at in System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(pointers))
        {
            var header = new byte[Sizes.Of<DrmAmdgpuCsChunk>()];
            errno = Errno.EFAULT;
            if (!SeccompNative.Read(tid, at, header)) return null;
            var chunk = Unsafe.As<byte, DrmAmdgpuCsChunk>(ref header[0]);
            var data = new byte[chunk.length_dw * 4UL];
            if (!SeccompNative.Read(tid, chunk.chunk_data, data)) return null;
            errno = Errno.EINVAL;
            switch (chunk.chunk_id)
            {
                case AmdgpuCs.ChunkIdIb:
                    if (data.Length < Sizes.Of<DrmAmdgpuCsChunkIb>()) return null;
                    ibs.Add(Unsafe.As<byte, DrmAmdgpuCsChunkIb>(ref data[0]));
                    break;
                case AmdgpuCs.ChunkIdBoHandles:
                    if (data.Length < Sizes.Of<DrmAmdgpuBoListIn>()) return null;
                    var list = Unsafe.As<byte, DrmAmdgpuBoListIn>(ref data[0]);
                    if (list.bo_info_size < Sizes.Of<DrmAmdgpuBoListEntry>()) return null;
                    var entries = new byte[list.bo_number * (ulong)list.bo_info_size];
                    errno = Errno.EFAULT;
                    if (!SeccompNative.Read(tid, list.bo_info_ptr, entries)) return null;
                    for (var i = 0UL; i < list.bo_number; i++) handles.Add(BitConverter.ToUInt32(entries, checked((int)(i * list.bo_info_size))));
                    break;
                default:
                    return null;
            }
        }
        errno = 0;
        return Gpuckpt.Simulator.Protocol.RequestHandler.SubmittedChunksWire(ibs, handles);
    }

    /// <summary>
    /// A dmabuf fd in the caller for the simulator's fd <paramref name="simFd"/>: one memfd per buffer, so that its inode
    /// names the buffer as a real dmabuf's does.
    /// </summary>
    private unsafe int Dmabuf(SeccompNotif n, int simFd)
    {
        var buffer = _client.DmabufInode(simFd);
        if (_dmabufs.TryGetValue(buffer, out var known)) _client.CloseFd(simFd);
        else _dmabufs[buffer] = known = (SeccompNative.MemfdCreate($"dmabuf:{buffer}", 1), simFd);
        var add = new SeccompNotifAddfd { id = n.id, srcfd = (uint)known.Memfd, newfd_flags = SeccompNative.OCloexec };
        var fd = SeccompNative.Ioctl(_listener, SeccompNative.NotifAddfd, &add);
        return fd >= 0 ? fd : throw new DriverException(SeccompNative.LastErrno, "SECCOMP_IOCTL_NOTIF_ADDFD", $"dmabuf of buffer {buffer}");
    }

    /// <summary>Writes a reply into the caller's memory, once the call is known to be still waiting for it.</summary>
    private unsafe bool Copy(SeccompNotif n, int tid, ulong address, byte[] bytes)
    {
        var id = n.id;
        return SeccompNative.Ioctl(_listener, SeccompNative.NotifIdValid, &id) == 0 && SeccompNative.Write(tid, address, bytes);
    }

    private static string ThreadStates(int pid) => string.Concat(Directory.EnumerateDirectories($"/proc/{pid}/task").Order(StringComparer.Ordinal)
        .Select(t => File.ReadAllText(Path.Combine(t, "stat"))).Select(stat => stat[(stat.LastIndexOf(')') + 2)..][0]));

    private static int TracerOf(int pid) => int.Parse(Status(pid, "TracerPid:"));

    private static bool MayCheckpoint(int tid)
    {
        var caps = ulong.Parse(Status(tid, "CapEff:"), System.Globalization.NumberStyles.HexNumber);
        return (caps & (1UL << 40)) != 0 || (caps & (1UL << 21)) != 0;
    }

    private static string Status(int pid, string key) =>
        File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(key, StringComparison.Ordinal))[key.Length..].Trim();

    // ---- the launcher --------------------------------------------------------------------------------------------

    private void Stop()
    {
        _stopping = true;
        _supervisor?.Join();
        if (_listener >= 0) SeccompNative.Close(_listener);
        _listener = -1;
    }

    /// <summary>Ends kfdemu, its stand-ins and the commands it runs at once (an interrupted run); safe from any thread.</summary>
    public void Abort()
    {
        try
        {
            if (_launcher is { HasExited: false } launcher) launcher.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // it ended meanwhile
        }
    }

    public void Dispose()
    {
        if (_launcher is { HasExited: false }) _launcher.Kill(entireProcessTree: true);
        _launcher?.Dispose();
        Stop();
        foreach (var s in _standIns.Concat(_own.Values))
            foreach (var node in s.SimNodes.Values) node.Dispose();
        foreach (var own in _own.Values) _client.DiscardRestoreTarget(own.SimPid);
        foreach (var (copy, _) in _ownKfdFiles.Concat(_ownRenderFiles)) SeccompNative.Close(copy);
        foreach (var (memfd, simFd) in _dmabufs.Values)
        {
            SeccompNative.Close(memfd);
            _client.CloseFd(simFd);
        }
        _client.Dispose();
        _dir.Delete(recursive: true);
    }
}
