using System.Text.Json;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Cli;

/// <summary>
/// A user always has a way out, run as gpuckpt processes: `unpause` releases a process a checkpoint left paused, once;
/// `abort` ends a job a killed engine left (one UNPAUSE, its partial image or half-restored process removed, `jobs` shows it
/// aborted, `resume` refuses it); `resume` of a job whose process is gone says why and names abort and forget; `forget`
/// says what is lost and needs --yes without a terminal; SIGINT or SIGTERM during a checkpoint unpauses the process once,
/// leaves the job interrupted and exits 130 or 143 with the next step; during a restore it leaves the job resumable.
/// </summary>
public sealed class ControlCommandSpecs : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromMinutes(3);
    private readonly TestSimulator _sim = new();
    private readonly string _root = Directory.CreateTempSubdirectory("gpuckpt-control-").FullName;

    [Fact]
    [Trait("Tier", "Full")]
    public async Task Unpause_releases_a_process_a_checkpoint_left_paused_exactly_once_and_it_can_be_checkpointed_again()
    {
        var pid = Spawn();
        var job = NewJob();
        var paused = await Gpuckpt(["checkpoint", "--pid", $"{pid}", "--images", Dir("paused"), "--job", job]);
        Assert.True(paused.ExitCode == 0, paused.ToString());
        Assert.True(_sim.Client.State(pid).Paused);

        var unpaused = await Gpuckpt(["unpause", "--pid", $"{pid}"]);
        Assert.True(unpaused.ExitCode == 0, unpaused.ToString());
        Assert.Contains($"unpaused pid {pid} (left paused by checkpoint job {job})", unpaused.Stdout);
        Assert.False(_sim.Client.State(pid).Paused);
        Assert.Equal(1, _sim.Client.State(pid).Counters.Unpause);

        var again = await Gpuckpt(["unpause", "--pid", $"{pid}"]);
        Assert.True(again.ExitCode == 1, again.ToString());
        Assert.Equal($"gpuckpt: pid {pid} is not paused: nothing to unpause", Assert.Single(Lines(again.Stderr)));
        Assert.Equal(1, _sim.Client.State(pid).Counters.Unpause);
        Assert.Equal(0, _sim.Client.State(pid).Counters.Evictions);

        // The pause's record ended with the unpause: a checkpoint pauses the process again.
        var after = await Gpuckpt(["checkpoint", "--pid", $"{pid}", "--images", Dir("after"), "--leave-running"]);
        Assert.True(after.ExitCode == 0, after.ToString());
        Assert.Equal(2, _sim.Client.State(pid).Counters.ProcessInfo);
        Assert.Equal(2, _sim.Client.State(pid).Counters.Unpause);
        Assert.True(ImageVerifier.Verify(Dir("after")).Ok);
    }

    [Theory]
    [Trait("Tier", "Full")]
    [InlineData(2, "SIGINT", 130)]
    [InlineData(15, "SIGTERM", 143)]
    public async Task A_signal_during_a_checkpoint_unpauses_the_process_once_and_leaves_the_job_interrupted_for_resume_or_abort(
        int signal, string name, int exitCode)
    {
        var pid = Spawn();
        var job = NewJob();
        foreach (var gpu in _sim.Client.Topology()) _sim.Client.SetCopyDelay(gpu.GpuId, 8_000_000); // 8 s a MiB: still copying when the signal comes
        using (var running = GpuckptProcess.Start(Arguments(["checkpoint", "--pid", $"{pid}", "--images", Dir("cut"), "--job", job]), Env()))
        {
            await Eventually(() => _sim.Client.State(pid).Paused, "the checkpoint never paused its process");
            // While it runs, no other command takes the job up: each names the process running it.
            foreach (var other in new[] { "abort", "resume" })
            {
                var refused = await Gpuckpt([other, job]);
                Assert.True(refused.ExitCode == 1, refused.ToString());
                Assert.Contains($"job {job} is running in another gpuckpt process (pid {running.ProcessId})", Assert.Single(Lines(refused.Stderr)));
            }
            Assert.True(_sim.Client.State(pid).Paused);
            running.Signal(signal);
            foreach (var gpu in _sim.Client.Topology()) _sim.Client.SetCopyDelay(gpu.GpuId, 0);
            var cut = await running.WaitForExitAsync(ProcessTimeout);
            Assert.True(cut.ExitCode == exitCode, cut.ToString());
            var line = Assert.Single(Lines(cut.Stderr));
            Assert.Contains($"checkpoint job {job} interrupted by {name}: pid {pid} was unpaused and runs again", line);
            Assert.Contains($"`gpuckpt resume {job}`", line);
            Assert.Contains($"`gpuckpt abort {job}`", line);
        }
        var counters = _sim.Client.State(pid).Counters;
        Assert.False(_sim.Client.State(pid).Paused);
        Assert.Equal(1, counters.ProcessInfo);
        Assert.Equal(1, counters.Unpause);
        Assert.False(Directory.Exists(Dir("cut")), "the interrupted job left its stale partial image");
        Assert.Equal("interrupted", await StateOf(job));

        // Resumed, the job pauses afresh and commits an image that verifies; the process runs again (one pause, one UNPAUSE each).
        var resumed = await Gpuckpt(["resume", job]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.True(ImageVerifier.Verify(Dir("cut")).Ok);
        Assert.Equal(2, _sim.Client.State(pid).Counters.ProcessInfo);
        Assert.Equal("completed", await StateOf(job));
        var unpaused = await Gpuckpt(["unpause", "--pid", $"{pid}"]);
        Assert.True(unpaused.ExitCode == 0, unpaused.ToString());
        Assert.Equal(2, _sim.Client.State(pid).Counters.Unpause);
        Assert.Equal(0, _sim.Client.State(pid).Counters.Evictions);
    }

    [Fact]
    [Trait("Tier", "Full")]
    public async Task A_signal_during_a_restore_leaves_it_resumable_and_resume_finishes_it_equal_to_the_original()
    {
        var pid = Spawn();
        var saved = await Gpuckpt(["checkpoint", "--pid", $"{pid}", "--images", Dir("image"), "--leave-running"]);
        Assert.True(saved.ExitCode == 0, saved.ToString());
        var job = $"rest-{Guid.NewGuid():N}"[..17];
        var tag = $"restore-{job}";
        foreach (var gpu in _sim.Client.Topology()) _sim.Client.SetCopyDelay(gpu.GpuId, 8_000_000);
        using (var running = GpuckptProcess.Start(Arguments(["restore", "--images", Dir("image"), "--job", job]), Env()))
        {
            await Eventually(() => _sim.Client.RestoreTargetsTagged(tag).Count > 0, "the restore never created its process");
            running.Signal(2);
            foreach (var gpu in _sim.Client.Topology()) _sim.Client.SetCopyDelay(gpu.GpuId, 0);
            var cut = await running.WaitForExitAsync(ProcessTimeout);
            Assert.True(cut.ExitCode == 130, cut.ToString());
            var line = Assert.Single(Lines(cut.Stderr));
            Assert.Contains($"restore job {job} interrupted by SIGINT: left resumable as it stood", line);
            Assert.Contains($"`gpuckpt resume {job}`", line);
            Assert.Contains($"`gpuckpt abort {job}`", line);
        }
        Assert.Equal("unfinished", await StateOf(job));

        var resumed = await Gpuckpt(["resume", job]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        var restored = Assert.Single(_sim.Client.RestoreTargetsTagged(tag));
        Assert.Equal(1, _sim.Client.State(restored).Counters.Resume);
        Assert.Equal(_sim.Client.State(pid).Digest, _sim.Client.State(restored).Digest);
        Assert.Equal("completed", await StateOf(job));
    }

    [Fact]
    [Trait("Tier", "Full")]
    public async Task Abort_of_a_checkpoint_a_killed_engine_left_paused_unpauses_once_removes_its_image_and_resume_refuses_it()
    {
        var pid = Spawn();
        var job = NewJob();
        var killed = await Gpuckpt(["checkpoint", "--pid", $"{pid}", "--images", Dir("killed"), "--job", job], "pause-issued");
        Assert.True(killed.Killed, killed.ToString());
        Assert.True(_sim.Client.State(pid).Paused);
        Assert.Equal("unfinished", await StateOf(job));

        var aborted = await Gpuckpt(["abort", job]);
        Assert.True(aborted.ExitCode == 0, aborted.ToString());
        Assert.Contains($"aborted checkpoint job {job}: pid {pid} was unpaused; its partial image {Dir("killed")} is removed", aborted.Stdout);
        Assert.False(_sim.Client.State(pid).Paused);
        Assert.Equal(1, _sim.Client.State(pid).Counters.Unpause);
        Assert.Equal(0, _sim.Client.State(pid).Counters.Evictions);
        Assert.False(Directory.Exists(Dir("killed")));
        Assert.Equal("aborted", await StateOf(job));

        var resume = await Gpuckpt(["resume", job]);
        Assert.True(resume.ExitCode == 2, resume.ToString());
        Assert.Matches($@"job {job} finished at \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(aborted: .*\): there is nothing to resume", Assert.Single(Lines(resume.Stderr)));
        var abortAgain = await Gpuckpt(["abort", job]);
        Assert.True(abortAgain.ExitCode == 2, abortAgain.ToString());
        Assert.Equal(1, _sim.Client.State(pid).Counters.Unpause);

        // The claim went with the job: the process is checkpointed again.
        var after = await Gpuckpt(["checkpoint", "--pid", $"{pid}", "--images", Dir("after"), "--leave-running"]);
        Assert.True(after.ExitCode == 0, after.ToString());
    }

    [Fact]
    [Trait("Tier", "Full")]
    public async Task Abort_of_a_restore_a_killed_engine_left_removes_the_half_restored_process()
    {
        var pid = Spawn();
        var saved = await Gpuckpt(["checkpoint", "--pid", $"{pid}", "--images", Dir("image"), "--leave-running"]);
        Assert.True(saved.ExitCode == 0, saved.ToString());
        var job = $"rest-{Guid.NewGuid():N}"[..17];
        var killed = await Gpuckpt(["restore", "--images", Dir("image"), "--job", job], "kfd-restored");
        Assert.True(killed.Killed, killed.ToString());
        var half = Assert.Single(_sim.Client.RestoreTargetsTagged($"restore-{job}"));

        var aborted = await Gpuckpt(["abort", job]);
        Assert.True(aborted.ExitCode == 0, aborted.ToString());
        Assert.Contains($"aborted restore job {job}", aborted.Stdout);
        Assert.Empty(_sim.Client.RestoreTargetsTagged($"restore-{job}"));
        Assert.Throws<Gpuckpt.Engine.Devices.DriverException>(() => _sim.Client.State(half));
        Assert.Equal("aborted", await StateOf(job));
        Assert.True(ImageVerifier.Verify(Dir("image")).Ok, "abort of a restore touched its image");
    }

    [Fact]
    [Trait("Tier", "Full")]
    public async Task Resume_of_a_job_whose_process_is_gone_names_abort_and_forget_and_forget_needs_yes_without_a_terminal()
    {
        var pid = Spawn();
        var job = NewJob();
        var killed = await Gpuckpt(["checkpoint", "--pid", $"{pid}", "--images", Dir("gone"), "--job", job], "chunk#2");
        Assert.True(killed.Killed, killed.ToString());

        var early = await Gpuckpt(["forget", job, "--yes"]);
        Assert.True(early.ExitCode == 2, early.ToString());
        Assert.Contains($"pid {pid} exists", early.Stderr);
        Assert.Contains($"`gpuckpt abort {job}`", early.Stderr);
        Assert.Equal("unfinished", await StateOf(job));

        _sim.Client.Kill(pid);
        var resume = await Gpuckpt(["resume", job]);
        Assert.True(resume.ExitCode == 1, resume.ToString());
        var line = Assert.Single(Lines(resume.Stderr));
        Assert.Contains($"job {job} cannot continue: its process, pid {pid}, no longer exists", line);
        Assert.Contains($"`gpuckpt abort {job}`", line);
        Assert.Contains($"`gpuckpt forget {job}`", line);

        var asked = await Gpuckpt(["forget", job]);
        Assert.True(asked.ExitCode == 2, asked.ToString());
        Assert.Contains($"its partial image {Dir("gone")} stays on disk", asked.Stderr);
        Assert.Contains("pass --yes", asked.Stderr);
        Assert.Equal("unfinished", await StateOf(job));

        var forgot = await Gpuckpt(["forget", job, "--yes"]);
        Assert.True(forgot.ExitCode == 0, forgot.ToString());
        Assert.Equal("forgotten", await StateOf(job));
        Assert.True(Directory.Exists(Dir("gone")), "forget touched the image");
        var none = await Gpuckpt(["resume"]);
        Assert.True(none.ExitCode == 0, none.ToString());
    }

    [Fact]
    [Trait("Tier", "Full")]
    public async Task A_job_whose_driver_is_gone_cannot_be_resumed_or_aborted_and_forget_ends_it()
    {
        var job = NewJob();
        var gone = new TestSimulator();
        var driver = $"sim:{gone.SocketPath}";
        try
        {
            var pid = gone.Client.Spawn(WorkloadRequest.Named("train", 31, sizeBytes: 8UL << 20));
            var killed = await GpuckptProcess.RunAsync(["checkpoint", "--driver", driver, "--pid", $"{pid}", "--images", Dir("orphan"), "--job", job,
                "--state-dir", Dir("state")], new Dictionary<string, string>(Env()) { ["GPUCKPT_CRASH_AT"] = "chunk#2" }, ProcessTimeout);
            Assert.True(killed.Killed, killed.ToString());
        }
        finally
        {
            gone.Dispose();
        }

        var resume = await Gpuckpt(["resume", job]);
        Assert.True(resume.ExitCode == 1, resume.ToString());
        var line = Assert.Single(Lines(resume.Stderr));
        Assert.Contains($"job {job} cannot continue: its driver {driver} cannot be opened", line);
        Assert.Contains($"`gpuckpt forget {job}`", line);
        var abort = await Gpuckpt(["abort", job]);
        Assert.True(abort.ExitCode == 1, abort.ToString());
        Assert.Contains($"`gpuckpt forget {job}`", Assert.Single(Lines(abort.Stderr)));
        Assert.Equal("unfinished", await StateOf(job));

        var forgot = await Gpuckpt(["forget", job, "--yes", "--json"]);
        Assert.True(forgot.ExitCode == 0, forgot.ToString());
        Assert.Contains($"its partial image {Dir("orphan")} stays on disk", forgot.Stderr);
        Assert.Equal("forgotten", await StateOf(job));
        Assert.Equal(ImageState.InProgress, ManifestCodec.Load(Dir("orphan")).State);
    }

    private uint Spawn()
    {
        var pid = _sim.Client.Spawn(WorkloadRequest.Named("train", 31, sizeBytes: 8UL << 20));
        _sim.Client.Run(pid, 1);
        return pid;
    }

    private static string NewJob() => $"ckpt-{Guid.NewGuid():N}"[..17];

    private string Dir(string name) => Path.Combine(_root, name);

    private async Task<string> StateOf(string job)
    {
        var jobs = await Gpuckpt(["jobs", "--json"]);
        Assert.True(jobs.ExitCode == 0, jobs.ToString());
        using var doc = JsonDocument.Parse(jobs.Stdout);
        return doc.RootElement.EnumerateArray().Single(j => j.GetProperty("job").GetString() == job).GetProperty("state").GetString()!;
    }

    private Task<GpuckptProcess.Result> Gpuckpt(string[] args, string? crashPoint = null)
    {
        var env = Env();
        if (crashPoint is not null) env["GPUCKPT_CRASH_AT"] = crashPoint;
        return GpuckptProcess.RunAsync(Arguments(args), env, ProcessTimeout);
    }

    /// <summary>Every command but `jobs` and the job-id ones takes --driver; all take the state directory.</summary>
    private IEnumerable<string> Arguments(string[] args) =>
        args[0] is "checkpoint" or "restore" or "unpause"
            ? args.Concat(["--driver", $"sim:{_sim.SocketPath}", "--state-dir", Dir("state")])
            : args.Concat(["--state-dir", Dir("state")]);

    private static Dictionary<string, string> Env() => new() { ["GPUCKPT_CHUNK_SIZE"] = "256KiB" };

    private static IEnumerable<string> Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

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
        _sim.Dispose();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
