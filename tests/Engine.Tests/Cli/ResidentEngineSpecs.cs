using System.Text.Json;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Cli;

/// <summary>
/// `gpuckpt serve`, the resident engine of a state directory, with checkpoint and restore as users run them: their jobs
/// run there when it serves their driver and journal (and restore the bytes saved), and in the command otherwise. The
/// command's Ctrl-C and SIGTERM reach the job, a command killed mid-checkpoint still has its process unpaused once, a
/// restore interrupted is rolled back with nothing resumed, stopping the engine interrupts its jobs and tells their
/// commands, a command of a user other than root and the engine's own is refused by its socket credentials, and an
/// engine whose jobs have answered gives back the memory they left once it has been idle a while.
/// </summary>
public sealed class ResidentEngineSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly TestSimulator _sim = new();
    private readonly string _root = Directory.CreateTempSubdirectory("gpuckpt-resident-").FullName;
    private readonly List<GpuckptProcess> _started = [];

    [Fact]
    public async Task Checkpoint_and_restore_run_in_the_resident_engine_and_restore_the_bytes_saved()
    {
        var pid = Spawn((ulong)TestSeed.Fresh());
        var serve = await Serve();

        var saved = await Gpuckpt(["checkpoint", "--pid", $"{pid}", "--images", Dir("image"), "--leave-running", "--json"]);
        Assert.True(saved.ExitCode == 0, saved.ToString());
        Assert.Equal("resident", Json(saved).GetProperty("engine").GetString());
        Assert.True(ImageVerifier.Verify(Dir("image")).Ok);
        var digest = _sim.Client.State(pid).Digest;
        _sim.Client.Run(pid, 2); // the original goes on: the restore must bring back what was saved, not what it holds now

        var restored = await Gpuckpt(["restore", "--images", Dir("image"), "--json"]);
        Assert.True(restored.ExitCode == 0, restored.ToString());
        Assert.Equal("resident", Json(restored).GetProperty("engine").GetString());
        var copy = Json(restored).GetProperty("pid").GetUInt32();
        Assert.Equal(digest, _sim.Client.State(copy).Digest);
        Assert.Equal(1, _sim.Client.State(copy).Counters.Resume);
        Assert.Equal(1, _sim.Client.State(pid).Counters.Unpause);
        // The jobs are the engine's, journalled in the state directory as any command's.
        var jobs = await Gpuckpt(["jobs", "--json"]);
        Assert.True(jobs.ExitCode == 0, jobs.ToString());
        foreach (var job in new[] { saved, restored })
            Assert.Contains(JsonDocument.Parse(jobs.Stdout).RootElement.EnumerateArray(),
                j => j.GetProperty("job_id").GetString() == Json(job).GetProperty("job_id").GetString() && j.GetProperty("state").GetString() == "completed");
        Assert.False(serve.HasExited, serve.Output);
    }

    [Fact]
    [Trait("Tier", "Full")]
    public async Task Commands_at_once_each_get_their_own_job_and_restore_their_own_bytes()
    {
        var pids = new[] { Spawn(21), Spawn(22), Spawn(23) };
        await Serve();

        var saved = await Task.WhenAll(pids.Select(pid =>
            Gpuckpt(["checkpoint", "--pid", $"{pid}", "--images", Dir($"image-{pid}"), "--leave-running", "--json"])));
        var digests = pids.Select(pid => _sim.Client.State(pid).Digest).ToList();
        var restored = await Task.WhenAll(pids.Select(pid => Gpuckpt(["restore", "--images", Dir($"image-{pid}"), "--json"])));

        for (var i = 0; i < pids.Length; i++)
        {
            Assert.True(saved[i].ExitCode == 0, saved[i].ToString());
            Assert.Equal(pids[i], Json(saved[i]).GetProperty("pid").GetUInt32());
            Assert.Equal("resident", Json(saved[i]).GetProperty("engine").GetString());
            Assert.True(restored[i].ExitCode == 0, restored[i].ToString());
            Assert.Equal(Dir($"image-{pids[i]}"), Json(restored[i]).GetProperty("images").GetString());
            Assert.Equal(digests[i], _sim.Client.State(Json(restored[i]).GetProperty("pid").GetUInt32()).Digest);
        }
        Assert.Equal(3, saved.Select(r => Json(r).GetProperty("job_id").GetString()).Distinct().Count());
    }

    [Fact]
    [Trait("Tier", "Full")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task A_command_of_another_user_is_refused_by_its_credentials_and_runs_nothing()
    {
        Assert.True(Environment.IsPrivilegedProcess, "this spec runs its second user with setpriv, which only root may");
        var pid = Spawn(31);
        await Serve();
        // Past the file modes that keep other users out first: only the socket's peer credentials are left to refuse.
        foreach (var dir in new[] { _root, Dir("state") })
            File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead |
                                      UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        File.SetUnixFileMode(Path.Combine(Dir("state"), "engine.sock"), (UnixFileMode)0b110_110_110);
        Directory.CreateDirectory(Dir("theirs"));
        File.SetUnixFileMode(Dir("theirs"), (UnixFileMode)0b111_111_111);

        var refused = await GpuckptProcess.RunAsync(Arguments(["checkpoint", "--pid", $"{pid}", "--images", Dir("theirs"), "--leave-running", "--json"]),
            new Dictionary<string, string> { ["HOME"] = _root }, Timeout, uid: Nobody);

        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.Contains($"the resident engine at {Path.Combine(Dir("state"), "engine.sock")} refused pid", refused.Stdout);
        Assert.Contains($"running as uid {Nobody}: only root or uid 0 may use it", refused.Stdout);
        // Nothing was asked of the process: not even its state, let alone a pause.
        Assert.Equal((0, 0, 0), (_sim.Client.State(pid).Counters.ProcessInfo, _sim.Client.State(pid).Counters.Checkpoint, _sim.Client.State(pid).Counters.Unpause));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Dir("theirs")));
        // Root is served as before.
        var saved = await Gpuckpt(["checkpoint", "--pid", $"{pid}", "--images", Dir("image"), "--leave-running", "--json"]);
        Assert.True(saved.ExitCode == 0, saved.ToString());
        Assert.Equal("resident", Json(saved).GetProperty("engine").GetString());
    }

    private const uint Nobody = 65534;

    [Fact]
    [Trait("Tier", "Full")]
    public async Task An_engine_gives_back_the_memory_a_job_of_many_bos_left_once_it_has_been_idle()
    {
        var pid = _sim.Client.Spawn(WorkloadRequest.Named("many-bos", (ulong)TestSeed.Fresh(), bos: 100_000));
        var serve = await Serve();

        var saved = await Gpuckpt(["checkpoint", "--pid", $"{pid}", "--images", Dir("image"), "--leave-running", "--json"]);
        Assert.True(saved.ExitCode == 0, saved.ToString());
        Assert.Equal("resident", Json(saved).GetProperty("engine").GetString());

        // Its peak is the job's; once the job has answered and no other came for a while (10 s), the engine holds well
        // under it (without giving the heap back it stays above four fifths of it).
        var (rss, peak) = Memory(serve.ProcessId);
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (rss > peak * 0.6 && DateTime.UtcNow < until)
        {
            await Task.Delay(200);
            (rss, peak) = Memory(serve.ProcessId);
        }
        Assert.True(rss <= peak * 0.6, $"the idle engine holds {rss >> 20} MiB after a peak of {peak >> 20} MiB");
        Assert.False(serve.HasExited, serve.Output);

        static (long Rss, long Peak) Memory(int process)
        {
            var status = File.ReadAllLines($"/proc/{process}/status");
            long Kib(string field) => long.Parse(status.Single(l => l.StartsWith(field + ":", StringComparison.Ordinal))[(field.Length + 1)..].Trim().Split(' ')[0]) << 10;
            return (Kib("VmRSS"), Kib("VmHWM"));
        }
    }

    [Fact]
    [Trait("Tier", "Full")]
    public async Task A_command_with_another_driver_or_with_in_process_runs_its_own_engine()
    {
        var pid = Spawn(11);
        await Serve();
        using var other = new TestSimulator();
        var elsewhere = other.Client.Spawn(WorkloadRequest.Named("train", 12, sizeBytes: 2UL << 20));

        var own = await GpuckptProcess.RunAsync(["checkpoint", "--driver", $"sim:{other.SocketPath}", "--pid", $"{elsewhere}", "--images", Dir("other"),
            "--state-dir", Dir("state"), "--leave-running", "--json"], timeout: Timeout);
        var forced = await Gpuckpt(["checkpoint", "--pid", $"{pid}", "--images", Dir("forced"), "--leave-running", "--in-process", "--json"]);

        Assert.True(own.ExitCode == 0, own.ToString());
        Assert.Equal("in-process", Json(own).GetProperty("engine").GetString());
        Assert.True(forced.ExitCode == 0, forced.ToString());
        Assert.Equal("in-process", Json(forced).GetProperty("engine").GetString());
        Assert.True(ImageVerifier.Verify(Dir("other")).Ok);
        Assert.True(ImageVerifier.Verify(Dir("forced")).Ok);

        // A command of another gpuckpt (one installed since the engine started) is declined: it runs its own engine.
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(Path.Combine(Dir("state"), "engine.sock")));
        await using var stream = new System.Net.Sockets.NetworkStream(socket);
        using var reader = new StreamReader(stream);
        await using var writer = new StreamWriter(stream) { AutoFlush = true, NewLine = "\n" };
        await writer.WriteLineAsync(JsonSerializer.Serialize(new
        {
            op = "checkpoint", driver = $"sim:{_sim.SocketPath}", journal = "sqlite", version = "0.9.0+elsewhere",
            arguments = new { pid, images = Dir("elsewhere"), leave_running = true },
        }));
        var answer = JsonDocument.Parse(await reader.ReadLineAsync() ?? "{}").RootElement;
        Assert.StartsWith("this engine is gpuckpt ", answer.GetProperty("declined").GetString());
        Assert.False(Directory.Exists(Dir("elsewhere")));
        Assert.Equal(1, _sim.Client.State(pid).Counters.ProcessInfo); // the forced checkpoint's pause alone
    }

    [Theory]
    [Trait("Tier", "Full")]
    [InlineData(2, "SIGINT", 130)]
    [InlineData(9, "SIGHUP", 137)]
    public async Task A_checkpoint_whose_command_is_interrupted_or_killed_unpauses_its_process_once_and_keeps_no_image(int signal, string name, int exitCode)
    {
        var pid = Spawn(13);
        var serve = await Serve();
        var job = NewJob();
        SlowCopies();
        using (var running = GpuckptProcess.Start(Arguments(["checkpoint", "--pid", $"{pid}", "--images", Dir("cut"), "--job", job])))
        {
            await Eventually(() => _sim.Client.State(pid).Paused, "the checkpoint never paused its process");
            running.Signal(signal);
            var cut = await running.WaitForExitAsync(Timeout);
            Assert.True(cut.ExitCode == exitCode, cut.ToString());
            if (signal != GpuckptProcess.SigKill)
                Assert.Contains($"checkpoint job {job} interrupted by {name}: pid {pid} was unpaused and runs again", Assert.Single(Lines(cut.Stderr)));
        }
        // A killed command's job is interrupted by the engine, which saw the command go.
        await Eventually(async () => await StateOf(job) == "interrupted", "the job was not interrupted");
        FastCopies();
        Assert.False(_sim.Client.State(pid).Paused);
        Assert.Equal(1, _sim.Client.State(pid).Counters.Unpause);
        Assert.False(Directory.Exists(Dir("cut")), "the interrupted job left its partial image");

        // As after any interrupted checkpoint, the job holds its process until it is resumed or aborted; the engine serves on.
        var aborted = await Gpuckpt(["abort", job]);
        Assert.True(aborted.ExitCode == 0, aborted.ToString());
        var after = await Gpuckpt(["checkpoint", "--pid", $"{pid}", "--images", Dir("after"), "--leave-running", "--json"]);
        Assert.True(after.ExitCode == 0, after.ToString());
        Assert.Equal("resident", Json(after).GetProperty("engine").GetString());
        Assert.Equal(2, _sim.Client.State(pid).Counters.Unpause);
        Assert.True(ImageVerifier.Verify(Dir("after")).Ok);
        Assert.False(serve.HasExited, serve.Output);
    }

    [Fact]
    [Trait("Tier", "Full")]
    public async Task A_restore_whose_command_is_interrupted_is_rolled_back_and_nothing_is_resumed()
    {
        var pid = Spawn(17);
        await Serve();
        var saved = await Gpuckpt(["checkpoint", "--pid", $"{pid}", "--images", Dir("image"), "--leave-running"]);
        Assert.True(saved.ExitCode == 0, saved.ToString());
        var job = $"rest-{Guid.NewGuid():N}"[..17];
        var tag = $"restore-{job}";
        SlowCopies();
        using (var running = GpuckptProcess.Start(Arguments(["restore", "--images", Dir("image"), "--job", job])))
        {
            await Eventually(() => _sim.Client.RestoreTargetsTagged(tag).Count > 0, "the restore never created its process");
            running.Signal(2);
            var cut = await running.WaitForExitAsync(Timeout);
            FastCopies();
            Assert.True(cut.ExitCode == 130, cut.ToString());
            Assert.Contains($"restore job {job} interrupted by SIGINT: what it had built was removed and nothing was resumed", Assert.Single(Lines(cut.Stderr)));
        }
        Assert.Empty(_sim.Client.RestoreTargetsTagged(tag));

        var again = await Gpuckpt(["restore", "--images", Dir("image"), "--json"]);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(_sim.Client.State(pid).Digest, _sim.Client.State(Json(again).GetProperty("pid").GetUInt32()).Digest);
    }

    [Fact]
    [Trait("Tier", "Full")]
    public async Task Stopping_the_engine_interrupts_its_checkpoint_tells_the_command_and_a_second_engine_on_the_directory_is_refused()
    {
        var pid = Spawn(19);
        var serve = await Serve();
        var second = await GpuckptProcess.RunAsync(["serve", "--driver", $"sim:{_sim.SocketPath}", "--state-dir", Dir("state")], timeout: Timeout);
        Assert.True(second.ExitCode == 1, second.ToString());
        Assert.Contains($"cannot listen on {Path.Combine(Dir("state"), "engine.sock")}: another resident engine is serving it", second.Stderr);

        SlowCopies();
        var job = NewJob();
        using var running = GpuckptProcess.Start(Arguments(["checkpoint", "--pid", $"{pid}", "--images", Dir("cut"), "--job", job]));
        await Eventually(() => _sim.Client.State(pid).Paused, "the checkpoint never paused its process");
        serve.Signal(GpuckptProcess.SigTerm);
        var cut = await running.WaitForExitAsync(Timeout);
        FastCopies();
        var stopped = await serve.WaitForExitAsync(Timeout);

        Assert.True(cut.ExitCode == 143, cut.ToString());
        Assert.Contains($"interrupted by SIGTERM: pid {pid} was unpaused and runs again", Assert.Single(Lines(cut.Stderr)));
        Assert.True(stopped.ExitCode == 0, stopped.ToString());
        Assert.False(_sim.Client.State(pid).Paused);
        Assert.Equal(1, _sim.Client.State(pid).Counters.Unpause);
        Assert.False(File.Exists(Path.Combine(Dir("state"), "engine.sock")), "the stopped engine left its socket");

        // With no engine left, a command runs its own.
        var aborted = await Gpuckpt(["abort", job]);
        Assert.True(aborted.ExitCode == 0, aborted.ToString());
        var own = await Gpuckpt(["checkpoint", "--pid", $"{pid}", "--images", Dir("own"), "--leave-running", "--json"]);
        Assert.True(own.ExitCode == 0, own.ToString());
        Assert.Equal("in-process", Json(own).GetProperty("engine").GetString());
    }

    [Fact]
    [Trait("Tier", "Full")]
    public async Task An_engine_killed_mid_checkpoint_leaves_its_command_naming_the_job_and_abort_unpauses_the_process_once()
    {
        var pid = Spawn(29);
        var serve = await Serve();
        SlowCopies();
        var job = NewJob();
        using var running = GpuckptProcess.Start(Arguments(["checkpoint", "--pid", $"{pid}", "--images", Dir("cut"), "--job", job]));
        await Eventually(() => _sim.Client.State(pid).Paused, "the checkpoint never paused its process");
        serve.Signal(GpuckptProcess.SigKill);
        var cut = await running.WaitForExitAsync(Timeout);
        FastCopies();

        Assert.True(cut.ExitCode == 1, cut.ToString());
        var line = Assert.Single(Lines(cut.Stderr));
        Assert.Contains($"stopped before it answered: job {job} stands as it left it", line);
        Assert.Contains($"`gpuckpt resume {job}`", line);
        Assert.Contains($"`gpuckpt abort {job}`", line);
        Assert.True(_sim.Client.State(pid).Paused, "nothing but the job may unpause the process");
        var aborted = await Gpuckpt(["abort", job]);
        Assert.True(aborted.ExitCode == 0, aborted.ToString());
        Assert.False(_sim.Client.State(pid).Paused);
        Assert.Equal(1, _sim.Client.State(pid).Counters.Unpause);
    }

    private async Task<GpuckptProcess> Serve()
    {
        var serve = GpuckptProcess.Start(["serve", "--driver", $"sim:{_sim.SocketPath}", "--state-dir", Dir("state"), "--json"], Env());
        _started.Add(serve);
        await serve.WaitForLineAsync(l => l.Contains("\"serving\"", StringComparison.Ordinal), Timeout);
        return serve;
    }

    private uint Spawn(ulong seed)
    {
        var pid = _sim.Client.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: 8UL << 20));
        _sim.Client.Run(pid, 1);
        return pid;
    }

    /// <summary>8 s a MiB: still copying when the signal comes.</summary>
    private void SlowCopies()
    {
        foreach (var gpu in _sim.Client.Topology()) _sim.Client.SetCopyDelay(gpu.GpuId, 8_000_000);
    }

    private void FastCopies()
    {
        foreach (var gpu in _sim.Client.Topology()) _sim.Client.SetCopyDelay(gpu.GpuId, 0);
    }

    private Task<GpuckptProcess.Result> Gpuckpt(string[] args) => GpuckptProcess.RunAsync(Arguments(args), timeout: Timeout);

    private IEnumerable<string> Arguments(string[] args) =>
        args[0] is "checkpoint" or "restore"
            ? args.Concat(["--driver", $"sim:{_sim.SocketPath}", "--state-dir", Dir("state")])
            : args.Concat(["--state-dir", Dir("state")]);

    private static Dictionary<string, string> Env() => new() { ["GPUCKPT_CHUNK_SIZE"] = "256KiB" };

    private string Dir(string name) => Path.Combine(_root, name);

    private static JsonElement Json(GpuckptProcess.Result result) => JsonDocument.Parse(result.Stdout).RootElement;

    private static IEnumerable<string> Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static Task Eventually(Func<bool> condition, string why) => Eventually(() => Task.FromResult(condition()), why);

    private static async Task Eventually(Func<Task<bool>> condition, string why)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, why);
            await Task.Delay(20);
        }
    }

    private static string NewJob() => $"ckpt-{Guid.NewGuid():N}"[..17];

    private async Task<string> StateOf(string job)
    {
        var jobs = await Gpuckpt(["jobs", "--json"]);
        Assert.True(jobs.ExitCode == 0, jobs.ToString());
        return JsonDocument.Parse(jobs.Stdout).RootElement.EnumerateArray().Single(j => j.GetProperty("job_id").GetString() == job).GetProperty("state").GetString()!;
    }

    public void Dispose()
    {
        foreach (var process in _started)
        {
            process.Stop(TimeSpan.FromSeconds(30));
            process.Dispose();
        }
        _sim.Dispose();
        try { Directory.Delete(_root, true); } catch (IOException) { }
    }
}
