using System.Text.Json;
using Akka.Actor;
using Gpuckpt.Actors.Claims;
using Gpuckpt.Actors.Persistence;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Recovery;

/// <summary>
/// One job per process at a time, across engines: the claim lives in the journal, so a second checkpoint of a process
/// another engine is checkpointing is refused naming that job, also after that engine was killed, until the job
/// finishes (on resume). A job id names one job: reused for another process, it is refused, not taken for it.
/// </summary>
public sealed class ProcessClaimSpecs(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromMinutes(3);
    private readonly SimNode _node = new(gpus: 2);
    private readonly TempDir _dir = new();

    [Fact]
    public async Task A_second_checkpoint_of_a_process_being_checkpointed_is_refused_naming_the_first_job()
    {
        var pid = Spawn();
        foreach (var gpu in _node.Client.Topology()) _node.Client.SetCopyDelay(gpu.GpuId, 8_000_000); // 8 s a MiB: the first stays busy
        var first = $"ckpt-{Guid.NewGuid():N}"[..17];
        using var running = GpuckptProcess.Start(Arguments(["checkpoint", "--pid", $"{pid}", "--images", _dir.Sub("first"), "--leave-running", "--job", first]), Env());
        await Eventually(() => _node.Client.State(pid).Paused, "the first checkpoint never paused its process");

        var second = await Engine(["checkpoint", "--pid", $"{pid}", "--images", _dir.Sub("second"), "--leave-running"]);
        Assert.Equal(1, second.ExitCode);
        Assert.Contains($"is held by job {first}", second.Stderr);
        Assert.False(Directory.Exists(_dir.Sub("second")) && Directory.EnumerateFiles(_dir.Sub("second")).Any(), "the refused job wrote an image");

        foreach (var gpu in _node.Client.Topology()) _node.Client.SetCopyDelay(gpu.GpuId, 0);
        var done = await running.WaitForExitAsync(ProcessTimeout);
        Assert.True(done.ExitCode == 0, done.ToString());
        Assert.Equal(1, _node.Client.State(pid).Counters.Unpause);
        Assert.True(ImageVerifier.Verify(_dir.Sub("first")).Ok);

        // Once the first job answered, the process is free again.
        var third = await Engine(["checkpoint", "--pid", $"{pid}", "--images", _dir.Sub("third"), "--leave-running"]);
        Assert.True(third.ExitCode == 0, third.ToString());
        Assert.Equal(2, _node.Client.State(pid).Counters.Unpause);
    }

    [Fact]
    public async Task The_claim_outlives_a_killed_engine_until_its_job_is_resumed()
    {
        var pid = Spawn();
        var first = $"ckpt-{Guid.NewGuid():N}"[..17];
        var killed = await Engine(["checkpoint", "--pid", $"{pid}", "--images", _dir.Sub("killed"), "--leave-running", "--job", first], "chunk#2");
        Assert.True(killed.Killed, killed.ToString());

        var refused = await Engine(["checkpoint", "--pid", $"{pid}", "--images", _dir.Sub("other"), "--leave-running"]);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"is held by job {first}", refused.Stderr);
        Assert.Contains($"gpuckpt resume {first}", refused.Stderr);

        var resumed = await Engine(["resume", first]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Equal(1, _node.Client.State(pid).Counters.Unpause);
        var after = await Engine(["checkpoint", "--pid", $"{pid}", "--images", _dir.Sub("after"), "--leave-running"]);
        Assert.True(after.ExitCode == 0, after.ToString());
        output.WriteLine("claim held across the kill, refused a second job, released when the resumed job finished");
    }

    [Fact]
    public async Task A_finished_job_id_reused_for_another_process_is_refused_and_touches_nothing()
    {
        var a = Spawn();
        var b = Spawn();
        var job = $"ckpt-{Guid.NewGuid():N}"[..17];
        var done = await Engine(["checkpoint", "--pid", $"{a}", "--images", _dir.Sub("a"), "--leave-running", "--job", job]);
        Assert.True(done.ExitCode == 0, done.ToString());

        var reused = await Engine(["checkpoint", "--pid", $"{b}", "--images", _dir.Sub("b"), "--leave-running", "--job", job]);
        // Refused before the engine starts: that id names a finished checkpoint of the other process.
        Assert.Equal(2, reused.ExitCode);
        Assert.Contains($"job {job} finished at ", reused.Stderr);
        Assert.Contains($"(completed: pid {a} -> {_dir.Sub("a")})", reused.Stderr);
        Assert.False(Directory.Exists(_dir.Sub("b")), "the reused id wrote an image for the other process");
        Assert.Equal(0, _node.Client.State(b).Counters.ProcessInfo);

        // The process of the refused request is not left claimed.
        var other = await Engine(["checkpoint", "--pid", $"{b}", "--images", _dir.Sub("b2"), "--leave-running"]);
        Assert.True(other.ExitCode == 0, other.ToString());
    }

    [Fact]
    [Trait("Tier", "Full")]
    public async Task A_checkpoint_of_a_process_an_earlier_job_left_paused_is_refused_before_a_second_pause()
    {
        var pid = Spawn();
        var first = $"ckpt-{Guid.NewGuid():N}"[..17];
        var paused = await Engine(["checkpoint", "--pid", $"{pid}", "--images", _dir.Sub("paused"), "--job", first]);
        Assert.True(paused.ExitCode == 0, paused.ToString());
        Assert.True(_node.Client.State(pid).Paused);

        foreach (var flags in new[] { Array.Empty<string>(), ["--leave-running"] })
        {
            var again = await Engine(["checkpoint", "--pid", $"{pid}", "--images", _dir.Sub($"again{flags.Length}"), .. flags]);
            Assert.Equal(1, again.ExitCode);
            var line = Assert.Single(again.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains($"pid {pid} is still paused by the finished checkpoint job {first}", line);
            Assert.Contains("pausing it again would evict its queues a second time", line);
            Assert.False(Directory.Exists(_dir.Sub($"again{flags.Length}")), "the refused job wrote an image");
        }
        var counters = _node.Client.State(pid).Counters;
        Assert.Equal(1, counters.ProcessInfo);
        Assert.Equal(1, counters.Evictions);

        // The pause undone (UNPAUSE, then its claim told), the process may be checkpointed again.
        using (var kfd = _node.Client.OpenKfd(pid)) KfdCheckpoint.Unpause(kfd);
        await using (var engine = EngineHost.Start(_node.Client, JournalConfig.Load("journal-sqlite.conf", _dir.Sub("state")).WithFallback(EngineConfig.Load())))
        {
            var inbox = Inbox.Create(engine.System);
            engine.System.ActorOf(ProcessClaim.Unpaused(ProcessClaim.KeyOf(_node.Client.Name, pid), "unpause", inbox.Receiver));
            Assert.IsType<ClaimReleased>(await inbox.ReceiveAsync(ProcessTimeout));
        }
        var after = await Engine(["checkpoint", "--pid", $"{pid}", "--images", _dir.Sub("after"), "--leave-running"]);
        Assert.True(after.ExitCode == 0, after.ToString());
        Assert.Equal(0, _node.Client.State(pid).Counters.Evictions);
        Assert.Equal(2, _node.Client.State(pid).Counters.ProcessInfo);
    }

    private uint Spawn()
    {
        var pid = _node.Client.Spawn(WorkloadRequest.Named("train", 31, sizeBytes: 8UL << 20));
        _node.Client.Run(pid, 1);
        return pid;
    }

    private Task<GpuckptProcess.Result> Engine(string[] args, string? crashPoint = null)
    {
        var env = Env();
        if (crashPoint is not null) env["GPUCKPT_CRASH_AT"] = crashPoint;
        return GpuckptProcess.RunAsync(Arguments(args), env, ProcessTimeout);
    }

    private IEnumerable<string> Arguments(string[] args) =>
        args.Concat(["--driver", $"sim:{_node.Server.SocketPath}", "--state-dir", _dir.Sub("state"), "--json"]);

    private static Dictionary<string, string> Env() => new() { ["GPUCKPT_CHUNK_SIZE"] = "256KiB" };

    private static async Task Eventually(Func<bool> condition, string why)
    {
        var deadline = DateTime.UtcNow + ProcessTimeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, why);
            await Task.Delay(20);
        }
    }

    public void Dispose()
    {
        _node.Dispose();
        _dir.Dispose();
    }
}
