using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
using Gpuckpt.Simulator.Workloads;
using Gpuckpt.Engine.Uapi;
using Xunit;

namespace Gpuckpt.Engine.Tests.Simulation;

/// <summary>The KFD CRIU op sequence rules, with the errno the kernel gives, through a real socket.</summary>
public sealed class KfdOpSequenceSpecs : IDisposable
{
    private readonly TestSimulator _sim = new(gpus: 2, idSeed: 3);

    public void Dispose() => _sim.Dispose();

    private SimulatorClient Client => _sim.Client;

    private static int Op(IKfdFile kfd, KfdCriuOp op) => Op(kfd, new KfdIoctlCriuArgs { op = (uint)op });

    private static int Op(IKfdFile kfd, KfdIoctlCriuArgs args) => kfd.CriuOp(ref args, [], [], []);

    private static KfdIoctlCriuArgs ProcessInfo(IKfdFile kfd)
    {
        var args = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.ProcessInfo };
        Assert.Equal(0, kfd.CriuOp(ref args, [], [], []));
        return args;
    }

    [Fact]
    public void Checkpoint_before_process_info_is_EINVAL()
    {
        var pid = Client.Spawn(WorkloadRequest.Named("tiny", 1));
        using var kfd = Client.OpenKfd(pid);
        var args = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.Checkpoint, num_bos = 10, num_devices = 1 };
        Assert.Equal(Errno.EINVAL, kfd.CriuOp(ref args, new KfdCriuDeviceBucket[1], new KfdCriuBoBucket[10], new byte[8192]));
        Assert.Contains("PROCESS_INFO must come first", SimulatorClient.LastErrorDetail);
    }

    [Fact]
    public void Checkpoint_with_wrong_num_bos_is_EINVAL_and_right_counts_succeed()
    {
        var pid = Client.Spawn(WorkloadRequest.Named("tiny", 2));
        using var kfd = Client.OpenKfd(pid);
        var info = ProcessInfo(kfd);
        Assert.Equal(1u, info.num_devices);
        Assert.Equal(10u, info.num_bos);

        var wrong = info with { op = (uint)KfdCriuOp.Checkpoint, num_bos = info.num_bos - 1 };
        var devices = new KfdCriuDeviceBucket[info.num_devices];
        var bos = new KfdCriuBoBucket[info.num_bos];
        var priv = new byte[info.priv_data_size];
        Assert.Equal(Errno.EINVAL, kfd.CriuOp(ref wrong, devices, bos, priv));
        Assert.Contains("num_bos 9", SimulatorClient.LastErrorDetail);

        var right = info with { op = (uint)KfdCriuOp.Checkpoint };
        Assert.Equal(0, kfd.CriuOp(ref right, devices, bos, priv));
        Assert.All(bos, b => Assert.Equal(devices[0].user_gpu_id, b.gpu_id));
        Assert.Equal(8, bos.Count(b => b.dmabuf_fd != uint.MaxValue));
        Assert.Contains(bos, b => (b.alloc_flags & (uint)KfdAllocFlags.Userptr) != 0 && b.dmabuf_fd == uint.MaxValue);
        Assert.Contains(priv, x => x != 0);
    }

    [Fact]
    public void Restore_on_a_running_process_is_EINVAL()
    {
        var pid = Client.Spawn(WorkloadRequest.Named("tiny", 3));
        using var kfd = Client.OpenKfd(pid);
        var args = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.Restore };
        Assert.Equal(Errno.EINVAL, kfd.CriuOp(ref args, [], [], []));
        Assert.Equal(1, Client.State(pid).Counters.Restore);
    }

    [Fact]
    public void Unknown_pid_is_ESRCH()
    {
        var e = Assert.Throws<DriverException>(() => Client.OpenKfd(424242));
        Assert.Equal(Errno.ESRCH, e.ErrorNumber);
        Assert.Contains("424242", e.Message);
        Assert.Equal(Errno.ESRCH, Assert.Throws<DriverException>(() => Client.State(424242)).ErrorNumber);
        Assert.Equal(Errno.ESRCH, Assert.Throws<DriverException>(() => Client.Run(424242, 1)).ErrorNumber);
    }

    [Fact]
    public void Process_info_twice_counts_two_evictions_and_one_unpause_leaves_the_queues_evicted_for_good()
    {
        var pid = Client.Spawn(WorkloadRequest.Named("tiny", 4));
        using var kfd = Client.OpenKfd(pid);
        var first = ProcessInfo(kfd);
        var second = ProcessInfo(kfd);
        Assert.Equal(first, second);
        Assert.True(Client.State(pid).Paused);

        // As kfd_process_evict_queues counts them: the one UNPAUSE queues_paused allows undoes one eviction of two.
        Assert.Equal(0, Op(kfd, KfdCriuOp.Unpause));
        Assert.Equal(Errno.EINVAL, Op(kfd, KfdCriuOp.Unpause));
        Assert.True(Client.State(pid).Paused, "one UNPAUSE for two PROCESS_INFOs let the queues run");
        Assert.Equal(Errno.EBUSY, Assert.Throws<DriverException>(() => Client.Run(pid, 1)).ErrorNumber);
        // CHECKPOINT needs queues_paused, which the UNPAUSE cleared.
        var dump = first with { op = (uint)KfdCriuOp.Checkpoint };
        Assert.Equal(Errno.EINVAL, kfd.CriuOp(ref dump, new KfdCriuDeviceBucket[first.num_devices], new KfdCriuBoBucket[first.num_bos], new byte[first.priv_data_size]));
        Assert.Equal(new ProcessCounters(2, 1, 1, 0, 0, Evictions: 1), Client.State(pid).Counters);

        // Another PROCESS_INFO with its own UNPAUSE only returns to the same count: the lost eviction is never undone.
        ProcessInfo(kfd);
        Assert.Equal(0, Op(kfd, KfdCriuOp.Unpause));
        Assert.Equal(Errno.EINVAL, Op(kfd, KfdCriuOp.Unpause));
        Assert.True(Client.State(pid).Paused);
        Assert.Equal(1, Client.State(pid).Counters.Evictions);
    }

    [Fact]
    public void One_process_info_and_one_unpause_let_the_queues_run_again()
    {
        var pid = Client.Spawn(WorkloadRequest.Named("tiny", 4));
        using var kfd = Client.OpenKfd(pid);
        ProcessInfo(kfd);
        Assert.Equal(0, Op(kfd, KfdCriuOp.Unpause));
        Assert.Equal(Errno.EINVAL, Op(kfd, KfdCriuOp.Unpause));
        Assert.Equal(1UL, Client.Run(pid, 1));
        // The refused second UNPAUSE changed nothing, so it is not counted.
        Assert.Equal(new ProcessCounters(1, 0, 1, 0, 0, Evictions: 0), Client.State(pid).Counters);
    }

    [Fact]
    public void Resume_needs_a_restore_and_happens_once()
    {
        var pid = Client.Spawn(WorkloadRequest.Named("tiny", 5));
        using var kfd = Client.OpenKfd(pid);
        Assert.Equal(Errno.EINVAL, Op(kfd, KfdCriuOp.Resume));

        var target = Client.CreateRestoreTarget();
        using var fresh = Client.OpenKfd(target);
        Assert.Equal(Errno.EINVAL, Op(fresh, KfdCriuOp.Resume));
        Assert.Equal(Errno.EBUSY, Assert.Throws<DriverException>(() => Client.Run(target, 1)).ErrorNumber);
    }

    [Fact]
    public void Vram_exhausted_on_restore_is_ENOMEM_and_leaves_nothing_allocated()
    {
        var pid = Client.Spawn(WorkloadRequest.Named("tiny", 6, sizeBytes: 8UL << 20));
        using var kfd = Client.OpenKfd(pid);
        var info = ProcessInfo(kfd);
        var devices = new KfdCriuDeviceBucket[info.num_devices];
        var bos = new KfdCriuBoBucket[info.num_bos];
        var priv = new byte[info.priv_data_size];
        var dump = info with { op = (uint)KfdCriuOp.Checkpoint };
        Assert.Equal(0, kfd.CriuOp(ref dump, devices, bos, priv));
        var vramNeeded = bos.Where(b => (b.alloc_flags & (uint)KfdAllocFlags.Vram) != 0).Aggregate(0UL, (s, b) => s + b.size);

        // A machine whose only GPU has less VRAM than the image holds.
        using var small = new TestSimulator(topology: SimTopology.Generate(1, 9, vramSize: vramNeeded - 4096));
        var target = small.Client.CreateRestoreTarget();
        using var kfdSmall = small.Client.OpenKfd(target);
        var map = new[] { new KfdCriuDeviceBucket { user_gpu_id = devices[0].user_gpu_id, actual_gpu_id = small.Server.Topology.Gpus[0].GpuId } };
        var restore = dump with { op = (uint)KfdCriuOp.Restore, pid = target };
        Assert.Equal(Errno.ENOMEM, kfdSmall.CriuOp(ref restore, map, bos, priv));
        Assert.Contains("VRAM", SimulatorClient.LastErrorDetail);
        var after = small.Client.State(target);
        Assert.Equal(0, after.Bos);
        Assert.False(after.Running);

        // Nothing stayed allocated: the same GPU still takes an image that fits.
        var fits = bos.Where(b => (b.alloc_flags & (uint)KfdAllocFlags.Vram) == 0).ToArray();
        var retry = restore with { num_bos = (uint)fits.Length };
        Assert.Equal(0, kfdSmall.CriuOp(ref retry, map, fits, priv));
    }

    [Fact]
    public void Restore_with_an_unknown_actual_gpu_is_EINVAL()
    {
        var target = Client.CreateRestoreTarget();
        using var kfd = Client.OpenKfd(target);
        var args = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.Restore, num_devices = 1 };
        Assert.Equal(Errno.EINVAL, kfd.CriuOp(ref args, [new KfdCriuDeviceBucket { user_gpu_id = 7, actual_gpu_id = 0xdead }], [], []));
        Assert.Contains("0xdead", SimulatorClient.LastErrorDetail);
    }

    [Fact]
    public void Resume_names_a_bo_the_program_uses_that_was_not_restored()
    {
        var pid = Client.Spawn(WorkloadRequest.Named("tiny", 7));
        using var kfd = Client.OpenKfd(pid);
        var info = ProcessInfo(kfd);
        var devices = new KfdCriuDeviceBucket[info.num_devices];
        var bos = new KfdCriuBoBucket[info.num_bos];
        var priv = new byte[info.priv_data_size];
        var dump = info with { op = (uint)KfdCriuOp.Checkpoint };
        Assert.Equal(0, kfd.CriuOp(ref dump, devices, bos, priv));

        var target = Client.CreateRestoreTarget();
        using var kfdB = Client.OpenKfd(target);
        var restore = dump with { op = (uint)KfdCriuOp.Restore, pid = target };
        Assert.Equal(0, kfdB.CriuOp(ref restore, devices, bos, priv));
        // The render BOs were never restored: the program's reference to one of them must be named.
        Assert.Equal(Errno.EINVAL, Op(kfdB, KfdCriuOp.Resume));
        Assert.Contains("render BO handle", SimulatorClient.LastErrorDetail);
    }

    [Fact]
    public void Wrong_ioctl_request_numbers_are_refused()
    {
        var pid = Client.Spawn(WorkloadRequest.Named("tiny", 8));
        var args = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.ProcessInfo };
        var wrongSize = IoctlNumber.Encode(IoctlNumber.Read | IoctlNumber.Write, KfdIoctls.Base, 0x22, Sizes.Of<KfdIoctlCriuArgs>() - 8);
        Assert.Equal(Errno.EINVAL, Client.KfdIoctl(pid, wrongSize, ref args, [], [], []));
        var unknown = IoctlNumber.Encode(IoctlNumber.Read | IoctlNumber.Write, KfdIoctls.Base, 0x7e, Sizes.Of<KfdIoctlCriuArgs>());
        Assert.Equal(Errno.ENOTTY, Client.KfdIoctl(pid, unknown, ref args, [], [], []));
        Assert.False(Client.State(pid).Paused);
        using var kfd = Client.OpenKfd(pid);
        Assert.Equal(Errno.EINVAL, Op(kfd, new KfdIoctlCriuArgs { op = 99 }));
        Assert.Contains("op 99", SimulatorClient.LastErrorDetail);

        var version = new KfdIoctlGetVersionArgs();
        Assert.Equal(0, kfd.GetVersion(ref version));
        Assert.Equal(1u, version.major_version);
    }

    [Fact]
    public void Injected_faults_fail_the_next_calls_then_clear()
    {
        var pid = Client.Spawn(WorkloadRequest.Named("tiny", 9));
        using var kfd = Client.OpenKfd(pid);
        Client.InjectFault(new SimFault(pid, SimOp.ProcessInfo, Errno.EAGAIN, Count: 2));
        Assert.Equal(Errno.EAGAIN, Op(kfd, KfdCriuOp.ProcessInfo));
        Assert.Equal(Errno.EAGAIN, Op(kfd, KfdCriuOp.ProcessInfo));
        Assert.False(Client.State(pid).Paused);
        Assert.Equal(0, Op(kfd, KfdCriuOp.ProcessInfo));
        Assert.Equal(3, Client.State(pid).Counters.ProcessInfo);
    }

    [Fact]
    public void A_killed_process_vanishes()
    {
        var pid = Client.Spawn(WorkloadRequest.Named("tiny", 10));
        using var kfd = Client.OpenKfd(pid);
        Client.Kill(pid);
        Assert.Equal(Errno.ESRCH, Op(kfd, KfdCriuOp.ProcessInfo));
        Assert.Equal(Errno.ESRCH, Assert.Throws<DriverException>(() => Client.RenderMinorsOpenedBy(pid)).ErrorNumber);
    }

    [Fact]
    public void Private_data_round_trips_byte_exact()
    {
        var rng = new Random(77);
        var opaque = new byte[333];
        rng.NextBytes(opaque);
        var program = new WorkloadProgram([0x1234, 0x99], [new ProgramLink(new BoRef(BoKind.Kfd, 0x1234, 0x7f0000001000), [new BoRef(BoKind.Render, 0x99, 3)])], 42, opaque, 5);
        var bytes = program.Encode();
        Assert.Equal(program.EncodedSize, bytes.Length);
        var back = WorkloadProgram.Decode(bytes);
        Assert.Equal(bytes, back.Encode());
        Assert.Equal(42UL, back.Step);
        Assert.Equal(Errno.EINVAL, Assert.Throws<Simulator.Memory.SimError>(() => WorkloadProgram.Decode(bytes[..^1])).ErrorNumber);
    }
}
