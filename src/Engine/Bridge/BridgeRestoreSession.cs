using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;

namespace Gpuckpt.Engine.Bridge;

/// <summary>
/// The engine's side of one <c>criu restore</c>, hook by hook. An image without GPU state passes through ("not mine").
/// With GPU state: the restored task's first RESTORE_EXT_FILE of a GPU file runs the journalled restore job there, held
/// short of RESUME (the bridge opens /dev/kfd and the render files in the task, RESTORE is issued by the task, every BO
/// is recreated and its contents written and checked); each GPU file's RESTORE_EXT_FILE gets the task's file;
/// UPDATE_VMA_MAP moves each BO mapping to its new offset; RESUME_DEVICES_LATE (CRIU's main process, every task and
/// mapping made) releases the job: RESUME, once. A restore that fails before that is rolled back and never resumed:
/// the failing hook fails CRIU's restore, and the exit hook discards a job left held.
/// </summary>
public sealed class BridgeRestoreSession
{
    private static readonly BridgeHook[] RestoreNeeds = [BridgeHook.RestoreExtFile, BridgeHook.UpdateVmaMap, BridgeHook.ResumeDevicesLate];

    private readonly BridgeRestoreDriver _driver;
    private readonly IBridgeRestores _jobs;
    private readonly string _imagesDir;
    private readonly Action<string> _log;
    private readonly IReadOnlyList<BridgeGpuFile> _files;
    private readonly List<BridgeHook> _called = [];
    private readonly Lock _gate = new();
    private uint? _gpuPid;
    private string? _failure;
    private bool _built;
    private bool _resumed;
    private bool _released;
    private IReadOnlyList<CriuRenderNode>? _imageNodes;
    private BridgeConnection? _task;

    /// <param name="imagesDir">CRIU's image directory; its GPU image is in <see cref="BridgeSession.GpuDirectory"/>.</param>
    public BridgeRestoreSession(BridgeRestoreDriver driver, IBridgeRestores jobs, string imagesDir, Action<string> log)
    {
        _driver = driver;
        _jobs = jobs;
        _imagesDir = imagesDir;
        _log = log;
        _files = BridgeGpuFiles.Load(imagesDir);
    }

    /// <summary>The hooks CRIU called, in order (init and exit included).</summary>
    public IReadOnlyList<BridgeHook> Called
    {
        get { lock (_called) return [.. _called]; }
    }

    /// <summary>Whether the image holds GPU files this restore rebuilds.</summary>
    public bool HasGpuState => _files.Count > 0;

    /// <summary>The task whose GPU state was rebuilt, once it was.</summary>
    public uint? GpuPid
    {
        get { lock (_gate) return _built ? _gpuPid : null; }
    }

    /// <summary>Whether RESUME was issued (once).</summary>
    public bool Resumed
    {
        get { lock (_gate) return _resumed; }
    }

    /// <summary>Why the GPU side failed, if it did.</summary>
    public string? Failure
    {
        get { lock (_gate) return _failure; }
    }

    /// <summary>Serves one connected bridge (CRIU's main process, or a restored task) until it goes.</summary>
    public void Serve(BridgeConnection connection)
    {
        while (connection.NextHook() is { } arrived)
        {
            lock (_called) _called.Add(arrived.Call.Hook);
            BridgeReply reply;
            try
            {
                reply = Handle(connection, arrived.Call);
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

    private BridgeReply Handle(BridgeConnection connection, BridgeHookCall call)
    {
        switch (call.Hook)
        {
            case BridgeHook.Init:
                return Init(connection.Hello);
            case BridgeHook.RestoreExtFile:
                return RestoreExtFile(connection, (uint)call.Pid, call.Id);
            case BridgeHook.UpdateVmaMap:
                return UpdateVmaMap((uint)call.Pid, call.Path, call.Addr, call.PageOffset);
            case BridgeHook.ResumeDevicesLate:
                return ResumeDevicesLate(connection, (uint)call.Pid);
            case BridgeHook.Exit:
                return Exit((BridgeStage)call.Stage, call.Ret);
            case BridgeHook.PostForking:
            case BridgeHook.RestoreInit:
                // BO contents are written inside the task's RESTORE_EXT_FILE, where its files are.
                return new BridgeReply(BridgeSession.NotMine);
            default:
                return new BridgeReply(-Errno.EINVAL, $"{call.Hook} is no hook of a restore");
        }
    }

    private BridgeReply Init(BridgeHello hello)
    {
        if (hello.Stage != BridgeStage.Restore)
            return new BridgeReply(-Errno.EINVAL, $"this engine serves a restore; the bridge says stage {hello.Stage}");
        var missing = HasGpuState ? RestoreNeeds.Where(h => !hello.Registers(h)).ToList() : [];
        return missing.Count == 0
            ? new BridgeReply(0)
            : new BridgeReply(-Errno.EOPNOTSUPP, $"this gpuckpt_bridge.so registers no {string.Join(", ", missing)}, which restoring GPU state needs: install CRIU 4.2 or later (.ci/install-criu) and rebuild gpuckpt");
    }

    private BridgeReply RestoreExtFile(BridgeConnection connection, uint pid, int id)
    {
        var file = _files.FirstOrDefault(f => f.Id == id);
        if (file is null) return new BridgeReply(BridgeSession.NotMine);
        lock (_gate)
        {
            if (_failure is { } failed) return new BridgeReply(-Errno.EIO, $"RESTORE_EXT_FILE id {id} in pid {pid}: the GPU restore failed: {failed}");
            if (!_built)
            {
                _gpuPid = pid;
                _task = connection;
                _driver.AttachTask(pid, connection);
                var outcome = _jobs.BuildAsync(BridgeSession.GpuImageDir(_imagesDir), CancellationToken.None).GetAwaiter().GetResult();
                if (!outcome.Ok)
                {
                    _failure = outcome.Summary;
                    _released = true; // a failed job rolled back: nothing is held
                    return new BridgeReply(-Errno.EIO, $"GPU restore of pid {pid} failed, nothing was resumed: {outcome.Summary}");
                }
                _built = true;
                _log($"GPU state of pid {pid} rebuilt in the restored task, held short of RESUME: {outcome.Summary}");
            }
            else if (_gpuPid != pid)
                return new BridgeReply(-Errno.EOPNOTSUPP, $"RESTORE_EXT_FILE id {id} in pid {pid}: the GPU state of this image is pid {_gpuPid}'s");
        }
        var slot = file.IsKfd ? _driver.KfdSlot : RenderSlot(file);
        return slot is { } s
            ? new BridgeReply(0, Slot: s)
            : new BridgeReply(-Errno.ENOENT, $"RESTORE_EXT_FILE id {id}: {(file.IsKfd ? "/dev/kfd" : $"render file {file.Index + 1} of renderD{file.Minor}")} of the dump has no file in the restored GPU state");
    }

    /// <summary>
    /// The task's file for a dumped render file: the image's render files of that old minor in order, each of its GPU,
    /// restored into that GPU's new node, the GPU's first file being the one KFD RESTORE was given.
    /// </summary>
    private int? RenderSlot(BridgeGpuFile file)
    {
        _imageNodes ??= LoadRenderNodes();
        var ofMinor = _imageNodes.Where(n => n.DrmRenderMinor == file.Minor).ToList();
        if (file.Index >= ofMinor.Count) return null;
        var node = ofMinor[file.Index];
        var index = _imageNodes.TakeWhile(n => n.Id != node.Id).Count(n => n.GpuId == node.GpuId);
        if (_driver.FileOfGpu(node.GpuId) is not { } first) return null;
        return (index == 0 ? first : _driver.RenderFile(new RenderFileRef(first.Minor, index)))?.Slot;
    }

    private List<CriuRenderNode> LoadRenderNodes()
    {
        var reader = ImageReader.Open(BridgeSession.GpuImageDir(_imagesDir));
        return [.. Restore.LoadedImage.Load(reader).RenderNodes];
    }

    /// <summary>CRIU's 1: the mapping moved (new offset, through the slot's file; KFD's own mappings reopen /dev/kfd); 0: no such mapping.</summary>
    private BridgeReply UpdateVmaMap(uint pid, string path, ulong addr, ulong oldOffset)
    {
        var isKfd = path == _driver.Paths.Kfd;
        var isRender = path.StartsWith(Path.Combine(_driver.Paths.Dri, "renderD"), StringComparison.Ordinal);
        if (!isKfd && !isRender) return new BridgeReply(BridgeSession.NotMine);
        lock (_gate)
        {
            if (!_built || _gpuPid != pid)
                return new BridgeReply(-Errno.ESRCH, $"UPDATE_VMA_MAP {path} at 0x{addr:x} in pid {pid}: no GPU state was rebuilt in that task");
        }
        if (_driver.KfdBoMove(oldOffset) is not { } move) return new BridgeReply(0, $"UPDATE_VMA_MAP {path} at 0x{addr:x}: no BO was mapped at offset 0x{oldOffset:x}");
        if (isKfd) return new BridgeReply(1, Value: move.NewOffset);
        var file = _driver.FileOfGpu(move.GpuId)
                   ?? throw new DriverException(Errno.ENOENT, "UPDATE_VMA_MAP", path, $"offset 0x{oldOffset:x}", $"GPU 0x{move.GpuId:x} has no render file in the restored task");
        return new BridgeReply(1, Value: move.NewOffset, Slot: file.Slot);
    }

    private BridgeReply ResumeDevicesLate(BridgeConnection connection, uint pid)
    {
        lock (_gate)
        {
            if (!_built || _gpuPid != pid) return new BridgeReply(BridgeSession.NotMine);
            if (_resumed || _released) return new BridgeReply(0);
            _released = true;
            _driver.Criu = connection;
            try
            {
                var outcome = _jobs.ResumeAsync(CancellationToken.None).GetAwaiter().GetResult();
                if (!outcome.Ok)
                {
                    _failure = outcome.Summary;
                    return new BridgeReply(-Errno.EIO, $"RESUME of pid {pid} failed: {outcome.Summary}");
                }
                _resumed = true;
                return new BridgeReply(0, $"pid {pid}: GPU resumed ({outcome.Summary})");
            }
            finally
            {
                _driver.Criu = null;
            }
        }
    }

    private BridgeReply Exit(BridgeStage stage, int ret)
    {
        lock (_gate)
        {
            // The restored task runs on with its end of the bridge open: its hooks are over, so this side hangs up.
            _task?.Hangup();
            if (stage != BridgeStage.Restore || !_built || _released) return new BridgeReply(0);
            _released = true;
            // CRIU's restore failed (or never reached RESUME_DEVICES_LATE): the held GPU state goes, unresumed, with the task.
            var reason = ret != 0 ? $"criu restore failed ({ret})" : "criu restore ended without RESUME_DEVICES_LATE";
            _failure ??= reason;
            var outcome = _jobs.DiscardAsync(reason, CancellationToken.None).GetAwaiter().GetResult();
            return new BridgeReply(0, $"pid {_gpuPid}: GPU state discarded without RESUME: {outcome.Summary}");
        }
    }
}
