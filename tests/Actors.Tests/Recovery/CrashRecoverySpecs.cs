using System.Text.Json;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Actors.Tests.Persistence;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Recovery;

/// <summary>
/// The engine as its own OS process, killed with SIGKILL at seeded points of a checkpoint and of a restore, then
/// started again with `gpuckpt resume`: the job completes, the image is byte-identical to one taken without a crash,
/// the continuation oracle holds, and the simulator counted exactly one UNPAUSE (or RESUME).
/// </summary>
public abstract class CrashRecoverySpecs(ITestOutputHelper output) : IDisposable
{
    private const ulong Seed = 77, StepsBefore = 2, StepsAfter = 3;
    private const ulong Size = 12UL << 20;
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromMinutes(2);
    private readonly SimNode _node = new(gpus: 2);
    private readonly TempDir _dir = new();

    /// <summary>The engine's --journal value and the environment it needs.</summary>
    protected abstract (string Journal, IReadOnlyDictionary<string, string> Env) Journal();

    private static readonly string[] CheckpointPoints = ["pause-issued", "paused", "captured", "chunk", "committed", "unpause-intended", "unpaused"];
    private static readonly string[] RestorePoints = ["planned", "target-created", "kfd-restored", "render-restored", "restore-chunk", "resume-intended", "resumed"];

    /// <summary>
    /// Ten or more seeded points: every named point once, then chunk points at random depths. With
    /// <paramref name="sample"/>, that many of them, drawn by the run's seed (<see cref="TestSeed"/>): the journal's twin
    /// on SQLite kills at every point each run, and what PostgreSQL adds is the store the resumed job reads.
    /// </summary>
    private static List<string> Points(string[] named, string chunkPoint, int seed, int chunks, int? sample, int runSeed)
    {
        var random = new Random(seed);
        var points = named.Select(p => p == chunkPoint ? $"{p}#{random.Next(1, chunks)}" : p).ToList();
        while (points.Count < 10)
        {
            var point = $"{chunkPoint}#{random.Next(1, chunks)}";
            if (!points.Contains(point)) points.Add(point);
        }
        if (sample is not { } count) return points;
        var draw = new Random(runSeed);
        return [.. points.OrderBy(_ => draw.Next()).Take(count)];
    }

    /// <param name="sample">kill at this many of the points, drawn by <paramref name="runSeed"/> (null: at every one)</param>
    protected async Task A_checkpoint_killed_anywhere_completes_on_resume_with_the_same_image(int? sample = null, int runSeed = 0)
    {
        var seed = (int)Seed;
        // The oracle engine signs and checks with the key of the engine under test (the one in its state directory).
        await using var engine = EngineHost.Start(_node.Client,
            $"gpuckpt.copy.chunk-size = 256KiB\ngpuckpt.images.key-file = \"{Path.Combine(_dir.Sub("state"), "image.key")}\"", "oracle");
        var jobIds = new List<string>();
        foreach (var point in Points(CheckpointPoints, "chunk", seed, 40, sample, runSeed))
        {
            var pid = Spawn();
            var images = _dir.Sub($"crash-{point.Replace('#', '-')}");
            var job = $"ckpt-{Guid.NewGuid():N}"[..17];
            jobIds.Add(job);
            var crashed = await Engine(["checkpoint", "--pid", $"{pid}", "--images", images, "--leave-running", "--job", job], point);
            Assert.True(crashed.Killed, $"seed {seed}, point {point}: the engine was not killed: {crashed}");

            var resumed = await Engine(["resume", job], crashPoint: null);
            Assert.True(resumed.ExitCode == 0, $"seed {seed}, point {point}: resume failed: {resumed}");
            Assert.Equal(job, JsonDocument.Parse(resumed.Stdout).RootElement.GetProperty("job_id").GetString());
            var counters = _node.Client.State(pid).Counters;
            var unpauses = counters.Unpause;
            // Killed before PROCESS_INFO's answer was journalled, the resumed job undoes that pause, then pauses afresh.
            var pauses = point == "pause-issued" ? 2 : 1;
            Assert.True(counters.ProcessInfo == pauses && unpauses == pauses && counters.Evictions == 0,
                $"seed {seed}, point {point}: {counters.ProcessInfo} PROCESS_INFO, {unpauses} UNPAUSE took effect, {counters.Evictions} evictions left");

            // The same process, not run since: an uninterrupted checkpoint must give the very same files.
            var reference = _dir.Sub($"reference-{point.Replace('#', '-')}");
            Assert.IsType<CheckpointCompleted>(await engine.CheckpointAsync(new CheckpointRequest(pid, reference, LeaveRunning: true), ProcessTimeout));
            SameImage(reference, images, point);

            // Continuation oracle: the image, restored, runs on exactly like the process it was taken from.
            _node.Client.Run(pid, StepsAfter);
            var restored = Assert.IsType<RestoreCompleted>(await engine.RestoreAsync(new RestoreRequest(images), ProcessTimeout)).Summary;
            _node.Client.Run(restored.Pid, StepsAfter);
            Assert.True(_node.Client.State(pid).Digest == _node.Client.State(restored.Pid).Digest,
                $"seed {seed}, point {point}: the restored image diverged from its process");
            _node.Client.Kill(pid);
            _node.Client.Kill(restored.Pid);
            output.WriteLine($"checkpoint killed at {point}: resumed, image identical to an uninterrupted one, one UNPAUSE, continuation equal");
            Faults.FaultReport.Add(new("engine killed (SIGKILL)", $"checkpoint: at {point} ({Journal().Journal})", "completed on resume, image identical", unpauses, 0, 0, 0, true));
        }

        var jobs = await Engine(["jobs"], crashPoint: null);
        // The journal may be shared with other specs (PostgreSQL): look at this spec's jobs, every one of them.
        var listed = JsonDocument.Parse(jobs.Stdout).RootElement.EnumerateArray()
            .ToDictionary(j => j.GetProperty("job_id").GetString()!, j => j.GetProperty("state").GetString());
        Assert.True(jobIds.Count >= (sample ?? 10), $"only {jobIds.Count} crash points");
        Assert.All(jobIds, id => Assert.True(listed.TryGetValue(id, out var state) && state == "completed",
            $"gpuckpt jobs lists {id} as {(listed.TryGetValue(id, out var s) ? s : "nothing")}: {jobs}"));
    }

    /// <param name="sample">kill at this many of the points, drawn by <paramref name="runSeed"/> (null: at every one)</param>
    protected async Task A_restore_killed_anywhere_completes_on_resume_and_continues_like_the_original(int? sample = null, int runSeed = 0)
    {
        var reference = await ReferenceCheckpoint();
        var seed = (int)Seed + 1;
        foreach (var point in Points(RestorePoints, "restore-chunk", seed, 30, sample, runSeed))
        {
            var job = $"rest-{Guid.NewGuid():N}"[..17];
            // Pids are handed out in order: the crashed run's process is the next one.
            var firstTarget = _node.Client.Spawn(WorkloadRequest.Named("tiny", 1)) + 1;
            var crashed = await Engine(["restore", "--images", reference.Images, "--job", job], point);
            Assert.True(crashed.Killed, $"seed {seed}, point {point}: the engine was not killed: {crashed}");

            var resumed = await Engine(["resume", job], crashPoint: null);
            Assert.True(resumed.ExitCode == 0, $"seed {seed}, point {point}: resume failed: {resumed}");
            var pid = JsonDocument.Parse(resumed.Stdout).RootElement.GetProperty("pid").GetUInt32();

            var state = _node.Client.State(pid);
            Assert.True(state.Counters.Resume == 1, $"seed {seed}, point {point}: {state.Counters.Resume} RESUMEs took effect");
            Assert.Equal(1, state.Counters.Restore);
            // Once the device state was journalled, the job goes on with that process instead of building another.
            if (point.StartsWith("restore-chunk", StringComparison.Ordinal) || point.StartsWith("resume", StringComparison.Ordinal))
                Assert.True(pid == firstTarget, $"seed {seed}, point {point}: resumed into pid {pid}, not the process the killed run built ({firstTarget})");
            _node.Client.Run(pid, StepsAfter);
            Assert.True(_node.Client.State(pid).Digest == reference.Continued, $"seed {seed}, point {point}: the restored process diverged");
            output.WriteLine($"restore killed at {point}: resumed as pid {pid}, continues like the original, one RESUME");
            Faults.FaultReport.Add(new("engine killed (SIGKILL)", $"restore: at {point} ({Journal().Journal})", "completed on resume, continuation equal", 0, state.Counters.Resume, 0, 0, true));
        }
    }

    protected async Task A_job_whose_process_vanished_while_the_engine_was_down_ends_with_a_clear_reason()
    {
        var pid = Spawn();
        var job = $"ckpt-{Guid.NewGuid():N}"[..17];
        var images = _dir.Sub("vanished");
        Assert.True((await Engine(["checkpoint", "--pid", $"{pid}", "--images", images, "--leave-running", "--job", job], "chunk#3")).Killed);
        _node.Client.Kill(pid);

        var resumed = await Engine(["resume", job], crashPoint: null);

        // Nothing to continue with: one line saying why, naming the commands that end the job; the job is left as it was.
        Assert.Equal(1, resumed.ExitCode);
        var line = Assert.Single(resumed.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"job {job} cannot continue: its process, pid {pid}, no longer exists", line);
        Assert.Contains($"`gpuckpt abort {job}`", line);
        Assert.Contains($"`gpuckpt forget {job}`", line);
        Assert.Equal(ImageState.InProgress, ManifestCodec.Load(images).State);
        Assert.Equal("unfinished", await StateOf(job));

        var aborted = await Engine(["abort", job], crashPoint: null);
        Assert.True(aborted.ExitCode == 0, aborted.ToString());
        Assert.False(Directory.Exists(images), "abort left the partial image");
        Assert.Equal("aborted", await StateOf(job));
    }

    private async Task<string> StateOf(string job)
    {
        var jobs = JsonDocument.Parse((await Engine(["jobs"], crashPoint: null)).Stdout).RootElement.EnumerateArray();
        return jobs.Single(j => j.GetProperty("job_id").GetString() == job).GetProperty("state").GetString()!;
    }

    private uint Spawn()
    {
        var pid = _node.Client.Spawn(WorkloadRequest.Named("train", Seed, sizeBytes: Size));
        _node.Client.Run(pid, StepsBefore);
        return pid;
    }

    /// <summary>An uninterrupted checkpoint of the same workload, and the digest of its process StepsAfter later.</summary>
    private async Task<(string Images, string Continued)> ReferenceCheckpoint()
    {
        var pid = Spawn();
        var images = _dir.Sub("reference");
        var done = await Engine(["checkpoint", "--pid", $"{pid}", "--images", images, "--leave-running"], crashPoint: null);
        Assert.True(done.ExitCode == 0, $"reference checkpoint failed: {done}");
        _node.Client.Run(pid, StepsAfter);
        return (images, _node.Client.State(pid).Digest);
    }

    private async Task<GpuckptProcess.Result> Engine(string[] args, string? crashPoint)
    {
        var (journal, env) = Journal();
        var driver = args[0] == "jobs" ? [] : new[] { "--driver", $"sim:{_node.Server.SocketPath}" };
        var all = args.Concat(driver).Concat(["--state-dir", _dir.Sub("state"), "--journal", journal, "--json"]);
        var environment = new Dictionary<string, string>(env) { ["GPUCKPT_CHUNK_SIZE"] = "256KiB" };
        if (crashPoint is not null) environment["GPUCKPT_CRASH_AT"] = crashPoint;
        return await GpuckptProcess.RunAsync(all, environment, ProcessTimeout);
    }

    /// <summary>Same files with the same bytes, and the same segments with the same checksums in the manifest.</summary>
    private static void SameImage(string expectedDir, string actualDir, string point)
    {
        var expected = ManifestCodec.Load(expectedDir);
        var actual = ManifestCodec.Load(actualDir);
        Assert.Equal(ImageState.Committed, actual.State);
        Assert.Equal(expected.Files.Select(f => f.Name), actual.Files.Select(f => f.Name));
        foreach (var (e, a) in expected.Files.Zip(actual.Files))
        {
            Assert.True(e.Size == a.Size, $"point {point}: {a.Name} has {a.Size} bytes, {e.Size} expected");
            Assert.True(e.Segments.SequenceEqual(a.Segments), $"point {point}: {a.Name} has other segments or checksums");
            Assert.True(File.ReadAllBytes(Path.Combine(expectedDir, e.Name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(actualDir, a.Name))),
                $"point {point}: {a.Name} differs from the uninterrupted image");
        }
        Assert.True(ImageVerifier.Verify(actualDir).Ok);
    }

    public void Dispose()
    {
        _node.Dispose();
        _dir.Dispose();
        GC.SuppressFinalize(this);
    }
}

[Trait("Tier", "Full")]
public sealed class SqliteCrashRecoverySpecs(ITestOutputHelper output) : CrashRecoverySpecs(output)
{
    protected override (string, IReadOnlyDictionary<string, string>) Journal() => ("sqlite", new Dictionary<string, string>());

    [Fact]
    public Task Checkpoint_killed_anywhere_completes_on_resume_sqlite() => A_checkpoint_killed_anywhere_completes_on_resume_with_the_same_image();

    [Fact]
    public Task Restore_killed_anywhere_completes_on_resume_sqlite() => A_restore_killed_anywhere_completes_on_resume_and_continues_like_the_original();

    [Fact]
    public Task A_vanished_process_ends_the_resumed_job_clearly_sqlite() => A_job_whose_process_vanished_while_the_engine_was_down_ends_with_a_clear_reason();
}

[Trait("Tier", "Full")]
public sealed class PostgresCrashRecoverySpecs(PostgresJournalSpecs.Server server, ITestOutputHelper output)
    : CrashRecoverySpecs(output), IClassFixture<PostgresJournalSpecs.Server>
{
    protected override (string, IReadOnlyDictionary<string, string>) Journal() =>
        ("postgres", new Dictionary<string, string> { ["GPUCKPT_POSTGRES"] = server.Cluster.ConnectionString });

    [PostgresFact]
    public Task Checkpoint_killed_anywhere_completes_on_resume_postgres() => A_checkpoint_killed_anywhere_completes_on_resume_with_the_same_image(sample: 3, TestSeed.Fresh());

    [PostgresFact]
    public Task Restore_killed_anywhere_completes_on_resume_postgres() => A_restore_killed_anywhere_completes_on_resume_and_continues_like_the_original(sample: 3, TestSeed.Fresh());
}
