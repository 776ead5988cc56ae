using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Native;

namespace Gpuckpt.Engine.Bridge;

/// <summary>
/// The engine's side of one CRIU run, hook by hook. Dump: PAUSE_DEVICES notes the task (it is not yet ptrace-attached,
/// and KFD takes CRIU ops only from its ptrace parent); CHECKPOINT_DEVICES runs the GPU checkpoint job through the
/// bridge and leaves the GPU paused; DUMP_EXT_FILE and HANDLE_DEVICE_VMA claim the device files and mappings the engine
/// saved; DUMP_DEVICES_LATE (where CRIU has it) or the plugin's exit UNPAUSEs exactly once, and a failed dump marks the
/// GPU image failed. Restore: a CRIU image without GPU state passes through; GPU state is refused (see Refuse).
/// </summary>
public sealed class BridgeSession
{
    /// <summary>What a hook returns for "not this plugin's": CRIU then asks the next plugin, or fails for want of one.</summary>
    public const int NotMine = -Errno.EOPNOTSUPP;

    /// <summary>The subdirectory of CRIU's image directory that holds the GPU image.</summary>
    public const string GpuDirectory = "gpu";

    private static readonly BridgeHook[] DumpNeeds = [BridgeHook.PauseDevices, BridgeHook.CheckpointDevices, BridgeHook.DumpExtFile, BridgeHook.HandleDeviceVma];

    private readonly BridgeDriver _driver;
    private readonly IBridgeCheckpoints _jobs;
    private readonly string _imagesDir;
    private readonly Action<string> _log;
    private readonly List<BridgeHook> _called = [];
    private readonly HashSet<int> _claimedFiles = [];
    private uint? _gpuPid;
    private bool _committed;
    private bool _unpaused;

    /// <param name="imagesDir">CRIU's image directory (-D); the GPU image goes to its <see cref="GpuDirectory"/>.</param>
    public BridgeSession(BridgeDriver driver, IBridgeCheckpoints jobs, string imagesDir, Action<string> log)
    {
        _driver = driver;
        _jobs = jobs;
        _imagesDir = imagesDir;
        _log = log;
    }

    /// <summary>The hooks CRIU called, in order (init and exit included).</summary>
    public IReadOnlyList<BridgeHook> Called
    {
        get { lock (_called) return [.. _called]; }
    }

    /// <summary>The task whose GPU state was saved, if one was.</summary>
    public uint? GpuPid => _gpuPid;

    /// <summary>Whether the GPU image was committed (it is the whole image only once CRIU's dump also succeeded).</summary>
    public bool GpuCommitted => _committed;

    /// <summary>Whether the session issued its UNPAUSE.</summary>
    public bool Unpaused => _unpaused;

    /// <summary>The GPU image directory inside <paramref name="imagesDir"/>.</summary>
    public static string GpuImageDir(string imagesDir) => Path.Combine(imagesDir, GpuDirectory);

    /// <summary>Serves one connected bridge until CRIU ends.</summary>
    public void Serve(BridgeConnection connection)
    {
        _driver.Connection = connection;
        try
        {
            while (connection.NextHook() is { } arrived)
            {
                lock (_called) _called.Add(arrived.Call.Hook);
                BridgeReply reply;
                try
                {
                    reply = Handle(connection.Hello, arrived);
                }
                catch (Exception e) when (e is DriverException or IOException or ImageException or InvalidOperationException)
                {
                    reply = new BridgeReply(-Errno.EIO, $"{arrived.Call.Hook} (pid {arrived.Call.Pid}, id {arrived.Call.Id}): {e.Message}");
                }
                finally
                {
                    if (arrived.Fd >= 0) BridgeConnection.CloseAll([arrived.Fd]);
                }
                if (reply.Message.Length > 0) _log(reply.Message);
                connection.Reply(reply);
            }
        }
        finally
        {
            _driver.Connection = null;
        }
    }

    private BridgeReply Handle(BridgeHello hello, BridgeHookArrived arrived)
    {
        var call = arrived.Call;
        switch (call.Hook)
        {
            case BridgeHook.Init:
                return Init(hello);
            case BridgeHook.PauseDevices:
                return new BridgeReply(0);
            case BridgeHook.CheckpointDevices:
                return CheckpointDevices((uint)call.Pid);
            case BridgeHook.DumpExtFile:
                return DumpExtFile(arrived.Fd, call.Id);
            case BridgeHook.HandleDeviceVma:
                return IsGpuDevice(call.Addr) ? new BridgeReply(0) : new BridgeReply(NotMine);
            case BridgeHook.DumpDevicesLate:
                return UnpauseOnce("DUMP_DEVICES_LATE");
            case BridgeHook.Exit:
                return Exit((BridgeStage)call.Stage, call.Ret);
            case BridgeHook.RestoreExtFile:
                return new BridgeReply(-Errno.EOPNOTSUPP, $"RESTORE_EXT_FILE id {call.Id} in pid {call.Pid}: {RestoreRefusal}");
            case BridgeHook.UpdateVmaMap:
            case BridgeHook.ResumeDevicesLate:
            case BridgeHook.PostForking:
            case BridgeHook.RestoreInit:
                return new BridgeReply(NotMine);
            default:
                return new BridgeReply(-Errno.EINVAL, $"unknown hook {(uint)call.Hook} from the bridge");
        }
    }

    /// <summary>Why GPU state is not restored inside a CRIU restore by this engine: the one line the restore fails with.</summary>
    public const string RestoreRefusal =
        "this engine restores whole processes without GPU state only; the GPU image beside CRIU's restores with `gpuckpt restore --driver`";

    private static BridgeReply Init(BridgeHello hello)
    {
        if (hello.Stage != BridgeStage.Dump) return new BridgeReply(0);
        var missing = DumpNeeds.Where(h => !hello.Registers(h)).ToList();
        return missing.Count == 0
            ? new BridgeReply(0)
            : new BridgeReply(-Errno.EOPNOTSUPP, $"this gpuckpt_bridge.so registers no {string.Join(", ", missing)}: it was built against an older CRIU header; install CRIU 4.2 or later (.ci/install-criu) and rebuild gpuckpt");
    }

    private BridgeReply CheckpointDevices(uint pid)
    {
        if (_driver.KfdFdOf(pid) is null) return new BridgeReply(0);
        if (_gpuPid is { } other)
            return new BridgeReply(-Errno.EOPNOTSUPP, $"pid {pid} holds /dev/kfd as pid {other} does: a CRIU dump through gpuckpt saves one GPU process (dump each tree on its own)");
        _gpuPid = pid;
        var outcome = _jobs.CheckpointAsync(pid, GpuImageDir(_imagesDir), CancellationToken.None).GetAwaiter().GetResult();
        if (!outcome.Committed) return new BridgeReply(-Errno.EIO, $"GPU checkpoint of pid {pid} failed: {outcome.Summary}");
        _committed = true;
        return new BridgeReply(0, $"GPU state of pid {pid} saved: {outcome.Summary}");
    }

    private BridgeReply DumpExtFile(int fd, int id)
    {
        if (fd < 0) return new BridgeReply(-Errno.EBADF, $"DUMP_EXT_FILE id {id}: no fd came with it");
        if (!IsGpuFile(fd)) return new BridgeReply(NotMine);
        // CRIU asks for device files only after CHECKPOINT_DEVICES: a CRIU that never called it cannot have saved the GPU.
        if (!_committed)
            return new BridgeReply(-Errno.EOPNOTSUPP, !Called.Contains(BridgeHook.CheckpointDevices)
                ? $"DUMP_EXT_FILE id {id} (a GPU file) came before any CHECKPOINT_DEVICES: this CRIU lacks the hook the GPU dump needs; install CRIU 4.2 or later"
                : $"DUMP_EXT_FILE id {id}: a GPU file of a task whose GPU state was not saved");
        _claimedFiles.Add(id);
        return new BridgeReply(0);
    }

    private BridgeReply Exit(BridgeStage stage, int ret)
    {
        if (stage != BridgeStage.Dump || _gpuPid is null) return new BridgeReply(0);
        var unpause = UnpauseOnce("exit");
        var notes = new List<string>();
        if (unpause.Rc != 0) notes.Add(unpause.Message);
        if (ret != 0 && _committed)
        {
            // CRIU's side failed: the GPU image alone is no checkpoint of the process, and must not verify as one.
            var dir = GpuImageDir(_imagesDir);
            var manifest = ManifestCodec.Load(dir);
            ManifestCodec.Store(dir, manifest with
            {
                State = ImageState.Failed, FailureReason = $"criu dump failed ({ret}) after the GPU image was committed", Finished = DateTimeOffset.UtcNow,
            });
            notes.Add($"GPU image {dir} marked failed: CRIU's dump failed ({ret})");
        }
        foreach (var (pid, file) in _driver.KfdFiles)
        {
            var rc = _driver.Connection!.Close(file.Slot);
            _driver.Forget(pid);
            if (rc != 0) notes.Add($"closing the bridge's /dev/kfd of pid {pid} failed: {Errno.Name(rc)}");
        }
        return new BridgeReply(unpause.Rc, string.Join("; ", notes.Prepend(unpause.Rc == 0 ? unpause.Message : "").Where(n => n.Length > 0).Distinct()));
    }

    /// <summary>UNPAUSE of the saved task, at most once a session: the kernel counts pauses, the job made exactly one.</summary>
    private BridgeReply UnpauseOnce(string when)
    {
        if (_unpaused || !_committed || _gpuPid is not { } pid) return new BridgeReply(0);
        var kfd = _driver.OpenKfd(pid);
        _unpaused = true;
        try
        {
            KfdCheckpoint.Unpause(kfd);
        }
        catch (DriverException e)
        {
            return new BridgeReply(-Errno.EIO, $"UNPAUSE of pid {pid} at {when} failed: {e.Message}");
        }
        return new BridgeReply(0, $"pid {pid}: GPU unpaused at {when}");
    }

    /// <summary>By the device the fd is (its rdev), else by the path it was opened as.</summary>
    private bool IsGpuFile(int fd)
    {
        if (DeviceNumber($"/proc/self/fd/{fd}") is { } rdev && rdev != 0 && IsGpuDevice(rdev)) return true;
        var link = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        return link is not null && (link == _driver.Paths.Kfd || link.StartsWith(Path.Combine(_driver.Paths.Dri, "renderD"), StringComparison.Ordinal));
    }

    private bool IsGpuDevice(ulong rdev) =>
        DeviceNumber(_driver.Paths.Kfd) == rdev
        || (Directory.Exists(_driver.Paths.Dri) && Directory.EnumerateFiles(_driver.Paths.Dri, "renderD*").Any(f => DeviceNumber(f) == rdev));

    private static ulong? DeviceNumber(string path) => Libc.StatRdev(path);
}
