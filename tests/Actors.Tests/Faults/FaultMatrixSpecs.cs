using Akka.Actor;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Faults;

/// <summary>
/// Faults injected into every phase of a checkpoint and of a restore (an op failing with an errno, the process dying,
/// VRAM running out, the disk filling up, the journal failing a write). Each job must end with a clear error or
/// complete; a paused process is unpaused exactly once; no image is reported committed unless it restores to exactly
/// the process it was taken from; a failed restore leaves no process behind. Every case is a row of faults.md.
/// </summary>
public sealed class FaultMatrixSpecs(ITestOutputHelper output) : EngineSpec(output)
{
    private static readonly (string Fault, string Phase, SimOp Op, int Errno)[] CheckpointOps =
    [
        ("PROCESS_INFO fails (EIO)", "checkpoint: pause", SimOp.ProcessInfo, Errno.EIO),
        ("CHECKPOINT fails (EIO)", "checkpoint: KFD state", SimOp.Checkpoint, Errno.EIO),
        ("GEM_LIST_HANDLES fails (EIO)", "checkpoint: render BOs", SimOp.GemListHandles, Errno.EIO),
        ("GET_MAPPING_INFO fails (EIO)", "checkpoint: render mappings", SimOp.GemMappingInfo, Errno.EIO),
        ("PRIME_HANDLE_TO_FD fails (EMFILE)", "checkpoint: import links", SimOp.PrimeHandleToFd, 24),
        ("BO mapping fails (EFAULT)", "checkpoint: copy", SimOp.MapBo, Errno.EFAULT),
        ("UNPAUSE fails once (EIO)", "checkpoint: unpause", SimOp.Unpause, Errno.EIO),
    ];

    private static readonly (string Fault, string Phase, SimOp Op, int Errno)[] RestoreOps =
    [
        ("RESTORE out of VRAM (ENOMEM)", "restore: KFD state", SimOp.Restore, Errno.ENOMEM),
        ("GEM_CREATE out of memory (ENOMEM)", "restore: render BOs", SimOp.GemCreate, Errno.ENOMEM),
        ("GEM_CHANGE_HANDLE taken (EEXIST)", "restore: render handles", SimOp.GemChangeHandle, Errno.EEXIST),
        ("GEM_VA fails (EINVAL)", "restore: mappings", SimOp.GemVa, Errno.EINVAL),
        ("PRIME_FD_TO_HANDLE fails (EIO)", "restore: imports", SimOp.PrimeFdToHandle, Errno.EIO),
        ("BO mapping fails (EFAULT)", "restore: contents", SimOp.MapBo, Errno.EFAULT),
        ("RESUME fails (EIO)", "restore: resume", SimOp.Resume, Errno.EIO),
    ];

    [Fact]
    public async Task Every_checkpoint_fault_ends_cleanly_with_one_unpause_and_nothing_lost()
    {
        using var node = new SimNode(gpus: 2);
        using var dir = new TempDir();
        var failures = new List<string>();
        foreach (var (fault, phase, op, errno) in CheckpointOps)
        {
            var pid = Spawn(node);
            node.Client.InjectFault(new SimFault(op == SimOp.MapBo ? 0 : pid, op, errno));
            failures.AddRange(await CheckpointRow(node, pid, dir.Sub($"c-{op}"), fault, phase, pauses: op != SimOp.ProcessInfo));
            node.Client.InjectFault(new SimFault(op == SimOp.MapBo ? 0 : pid, op, errno, Count: 0));
        }

        // The process dies while its contents are copied (slow copies keep it in that phase).
        var victim = Spawn(node);
        foreach (var gpu in node.Client.Topology()) node.Client.SetCopyDelay(gpu.GpuId, 2_000_000);
        var dying = CheckpointRow(node, victim, dir.Sub("c-killed"), "GPU process killed", "checkpoint: copy", pauses: true, afterPause: () => node.Client.Kill(victim));
        failures.AddRange(await dying);
        foreach (var gpu in node.Client.Topology()) node.Client.SetCopyDelay(gpu.GpuId, 0);

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [TmpfsFact]
    public async Task A_checkpoint_onto_a_full_disk_ends_failed_with_one_unpause()
    {
        using var node = new SimNode(gpus: 2);
        using var disk = SmallTmpfs.Mount(4 << 20);
        var pid = Spawn(node);
        var failures = await CheckpointRow(node, pid, Path.Combine(disk.Path, "img"), "image file system full (real ENOSPC, 4 MiB tmpfs)", "checkpoint: copy", pauses: true);
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task Every_restore_fault_rolls_back_and_leaves_no_process()
    {
        using var node = new SimNode(gpus: 2);
        using var dir = new TempDir();
        var source = Spawn(node);
        var images = dir.Sub("image");
        await Checkpoint(node.Client, source, images, leaveRunning: true);
        var failures = new List<string>();
        foreach (var (fault, phase, op, errno) in RestoreOps)
        {
            node.Client.InjectFault(new SimFault(0, op, errno));
            var before = node.Client.Spawn(WorkloadRequest.Named("tiny", 1));
            Jobs(node.Client).Tell(new RestoreRequest(images), TestActor);
            var reply = await ExpectMsgAsync<IRestoreMessage>(JobTimeout);
            node.Client.InjectFault(new SimFault(0, op, errno, Count: 0));
            var after = node.Client.Spawn(WorkloadRequest.Named("tiny", 1));
            var left = Enumerable.Range((int)before + 1, (int)(after - before - 1)).Select(p => (uint)p).Where(p => Exists(node, p)).ToList();
            var resumes = left.Sum(p => node.Client.State(p).Counters.Resume);
            var (outcome, ok) = reply switch
            {
                RestoreFailed f => ($"failed: {f.Reason}", f.Reason.Contains(Errno.Name(errno), StringComparison.Ordinal) && left.Count == 0),
                // The fault was never reached (the op was not needed): the restore must then be exactly right.
                RestoreCompleted c => ($"completed as pid {c.Summary.Pid} (fault not reached)",
                    left.SequenceEqual([c.Summary.Pid]) && node.Client.State(c.Summary.Pid).Digest == node.Client.State(source).Digest),
                _ => ($"{reply}", false),
            };
            FaultReport.Add(new(fault, phase, outcome, 0, resumes, 0, 0, ok));
            if (!ok) failures.Add($"{fault} / {phase}: {outcome}; processes left: {string.Join(", ", left)}");
            foreach (var p in left.Append(before).Append(after)) node.Client.Kill(p);
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <param name="pauses">Whether the process gets paused before the fault strikes (then exactly one UNPAUSE must follow).</param>
    private async Task<List<string>> CheckpointRow(SimNode node, uint pid, string images, string fault, string phase, bool pauses, Action? afterPause = null)
    {
        var before = node.Client.State(pid);
        Jobs(node.Client).Tell(new CheckpointRequest(pid, images, LeaveRunning: true), TestActor);
        if (afterPause is not null)
        {
            while (!node.Client.State(pid).Paused) await Task.Delay(10);
            afterPause();
        }
        var reply = await ExpectMsgAsync<ICheckpointMessage>(JobTimeout);
        var alive = Exists(node, pid);
        var after = alive ? node.Client.State(pid) : null;
        var unpauses = after is null ? 0 : after.Counters.Unpause - before.Counters.Unpause;
        var wasPaused = pauses;
        var state = File.Exists(Path.Combine(images, ImageManifest.FileName)) ? ManifestCodec.Load(images).State : (ImageState?)null;
        var problems = new List<string>();
        long lost = 0;
        var wrongly = 0;
        string outcome;
        switch (reply)
        {
            case CheckpointCompleted:
                outcome = "completed";
                if (!alive) problems.Add("completed although the process died");
                else
                {
                    // Committed: it must restore to exactly the process it was taken from (not run since).
                    var restored = await Restore(node.Client, images);
                    if (node.Client.State(restored.Pid).Digest != after!.Digest)
                    {
                        lost = restored.Bytes;
                        wrongly = 1;
                        problems.Add("the committed image restores to another state");
                    }
                    node.Client.Kill(restored.Pid);
                }
                break;
            case CheckpointFailed f:
                outcome = $"failed: {f.Reason}";
                if (state == ImageState.Committed) wrongly = 1;
                if (after is not null && after.Digest != before.Digest) lost = (long)after.Bytes;
                if (after is not null && !after.Running) problems.Add("left paused");
                break;
            default:
                outcome = $"{reply}";
                problems.Add("no answer a client understands");
                break;
        }
        if (wasPaused && alive && unpauses != 1) problems.Add($"{unpauses} UNPAUSEs took effect");
        if (wrongly > 0) problems.Add("image reported committed");
        if (lost > 0) problems.Add($"{lost} bytes lost");
        FaultReport.Add(new(fault, phase, outcome, unpauses, 0, wrongly, lost, problems.Count == 0));
        if (alive) node.Client.Kill(pid);
        return [.. problems.Select(p => $"{fault} / {phase}: {p} ({outcome})")];
    }

    private static uint Spawn(SimNode node)
    {
        var pid = node.Client.Spawn(WorkloadRequest.Named("train", 41, sizeBytes: 6UL << 20));
        node.Client.Run(pid, 2);
        return pid;
    }

    private static bool Exists(SimNode node, uint pid)
    {
        try
        {
            node.Client.State(pid);
            return true;
        }
        catch (DriverException e) when (e.ErrorNumber == Errno.ESRCH)
        {
            return false;
        }
    }
}
