using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
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
public sealed class FaultMatrixSpecs(ITestOutputHelper output) : FaultTableSpec(output)
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
            failures.AddRange(await RestoreRow(node, images, fault, phase, node.Client.State(source).Digest,
                reason => reason.Contains(Errno.Name(errno), StringComparison.Ordinal),
                disarm: () => node.Client.InjectFault(new SimFault(0, op, errno, Count: 0))));
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
