using System.Text.Json;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Recovery;

/// <summary>
/// A restore killed right after its process appears on the device, before the process's pid can be journalled:
/// `gpuckpt resume` finds that process by the tag journalled before it was created, removes it, and builds the one
/// process that is left running. Never an orphan beside it.
/// </summary>
[Trait("Tier", "Full")]
public sealed class RestoreOrphanSpecs(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromMinutes(2);
    private readonly SimNode _node = new(gpus: 2);
    private readonly TempDir _dir = new();

    [Fact]
    public async Task A_restore_killed_as_its_process_appears_leaves_exactly_one_process_after_resume()
    {
        var images = await Checkpoint();
        // The crash point between creating the process and journalling it, then kills from outside the moment the
        // process shows up on the device (what a user's kill -9 or the OOM killer does).
        var trials = new List<Func<string, Task<GpuckptProcess.Result>>>
        {
            job => Engine(["restore", "--images", images, "--job", job], "target-made"),
        };
        for (var i = 0; i < 3; i++) trials.Add(job => KilledWhenTargetAppears(["restore", "--images", images, "--job", job]));

        foreach (var (trial, n) in trials.Select((t, n) => (t, n)))
        {
            var job = $"rest-{Guid.NewGuid():N}"[..17];
            var before = _node.Client.Spawn(WorkloadRequest.Named("tiny", 1));
            var killed = await trial(job);
            Assert.True(killed.Killed, $"trial {n}: the engine was not killed: {killed}");

            var resumed = await Engine(["resume", job], null);
            Assert.True(resumed.ExitCode == 0, $"trial {n}: resume failed: {resumed}");
            var pid = JsonDocument.Parse(resumed.Stdout).RootElement.GetProperty("pid").GetUInt32();
            var after = _node.Client.Spawn(WorkloadRequest.Named("tiny", 1));

            // Pids are handed out in order: every process the killed run and the resume made lies between the probes.
            var alive = Enumerable.Range((int)before + 1, (int)(after - before - 1)).Select(p => (uint)p).Where(Exists).ToList();
            Assert.True(alive.SequenceEqual([pid]), $"trial {n}: processes left between pids {before} and {after}: {string.Join(", ", alive)} (restored {pid})");
            Assert.Equal(1, _node.Client.State(pid).Counters.Resume);
            output.WriteLine($"trial {n}: killed, resumed as pid {pid}; the half-built process was removed");
            foreach (var p in new[] { before, after, pid }) _node.Client.Kill(p);
        }
    }

    private bool Exists(uint pid)
    {
        try
        {
            _node.Client.State(pid);
            return true;
        }
        catch (DriverException e) when (e.ErrorNumber == Errno.ESRCH)
        {
            return false;
        }
    }

    /// <summary>Runs the engine and SIGKILLs it as soon as the next pid exists on the simulator.</summary>
    private async Task<GpuckptProcess.Result> KilledWhenTargetAppears(string[] args)
    {
        var next = _node.Client.Spawn(WorkloadRequest.Named("tiny", 1));
        _node.Client.Kill(next);
        using var engine = GpuckptProcess.Start(Arguments(args), Environment());
        var deadline = DateTime.UtcNow + ProcessTimeout;
        while (!engine.HasExited && !Exists(next + 1))
            Assert.True(DateTime.UtcNow < deadline, "the restore never created its process");
        engine.Kill();
        return await engine.WaitForExitAsync(ProcessTimeout);
    }

    private async Task<string> Checkpoint()
    {
        var pid = _node.Client.Spawn(WorkloadRequest.Named("train", 21, sizeBytes: 8UL << 20));
        _node.Client.Run(pid, 2);
        var images = _dir.Sub("image");
        var done = await Engine(["checkpoint", "--pid", $"{pid}", "--images", images, "--leave-running"], null);
        Assert.True(done.ExitCode == 0, $"checkpoint failed: {done}");
        _node.Client.Kill(pid);
        return images;
    }

    private Task<GpuckptProcess.Result> Engine(string[] args, string? crashPoint)
    {
        var environment = Environment();
        if (crashPoint is not null) environment["GPUCKPT_CRASH_AT"] = crashPoint;
        return GpuckptProcess.RunAsync(Arguments(args), environment, ProcessTimeout);
    }

    private IEnumerable<string> Arguments(string[] args) =>
        args.Concat(["--driver", $"sim:{_node.Server.SocketPath}", "--state-dir", _dir.Sub("state"), "--json"]);

    private static Dictionary<string, string> Environment() => new() { ["GPUCKPT_CHUNK_SIZE"] = "256KiB" };

    public void Dispose()
    {
        _node.Dispose();
        _dir.Dispose();
    }
}
