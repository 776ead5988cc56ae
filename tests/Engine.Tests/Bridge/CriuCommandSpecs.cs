using System.Diagnostics;
using System.Text.Json;
using Gpuckpt.Engine.Bridge;
using Gpuckpt.Engine.Images;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Bridge;

/// <summary><c>gpuckpt checkpoint --criu</c> and <c>restore --criu</c>: real CRIU with the bridge loaded, and the one-line refusals.</summary>
public sealed class CriuCommandSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-criu-spec-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Dir(string name) => Path.Combine(_dir.FullName, name);

    private static async Task<GpuckptProcess.Result> Gpuckpt(IReadOnlyDictionary<string, string>? environment, params string[] args) =>
        await GpuckptProcess.RunAsync(args, environment, Timeout);

    /// <summary>The counter's values so far, one a line; every value must follow the one before it.</summary>
    private static long[] Counts(string file)
    {
        var values = File.Exists(file) ? File.ReadAllLines(file).Where(l => l.Length > 0).Select(long.Parse).ToArray() : [];
        for (var i = 0; i < values.Length; i++)
            Assert.True(values[i] == i + 1, $"the counter wrote {values[i]} as its value number {i + 1}: it did not continue where it was saved");
        return values;
    }

    private static async Task<long[]> CountsReaching(string file, long atLeast)
    {
        using var deadline = new CancellationTokenSource(Timeout);
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        while (await tick.WaitForNextTickAsync(deadline.Token))
        {
            var counts = File.Exists(file) ? File.ReadAllLines(file).Where(l => l.Length > 0).ToArray() : [];
            if (counts.Length >= atLeast) return Counts(file);
        }
        throw new TimeoutException($"{file} never reached {atLeast}");
    }

    [Fact]
    [Trait("Tier", "Full")]
    public async Task A_process_saved_through_criu_with_the_bridge_restores_under_its_pid_and_its_counter_goes_on()
    {
        var count = Dir("count");
        var images = Dir("images");
        var start = new ProcessStartInfo("setsid") { UseShellExecute = false };
        // One process, no children: a `sleep` child caught by the dump is killed with it, and CRIU cannot restore the tree
        // under its pids until someone reaps that child.
        var loop = "open STDIN, '<', '/dev/null'; open STDOUT, '>', '/dev/null'; open STDERR, '>', '/dev/null'; my $i = 0; " +
                   "while (1) { $i++; open my $f, '>>', $ARGV[0] or die; print $f \"$i\\n\"; close $f; select undef, undef, undef, 0.02 }";
        foreach (var a in new[] { "perl", "-e", loop, count })
            start.ArgumentList.Add(a);
        using var counter = Process.Start(start)!;
        var pid = counter.Id;
        uint restored = 0;
        try
        {
            await CountsReaching(count, 5);
            var dump = await Gpuckpt(null, "checkpoint", "--criu", "--pid", $"{pid}", "--images", images, "--json", "--state-dir", Dir("state"));
            Assert.True(dump.ExitCode == 0, dump.ToString());
            var report = JsonDocument.Parse(dump.Stdout).RootElement;
            Assert.False(report.GetProperty("gpu").GetBoolean());
            // The bridge was loaded and CRIU called its device hooks (it found no GPU state to save).
            var hooks = report.GetProperty("hooks").EnumerateArray().Select(h => h.GetString()).ToList();
            Assert.Contains(nameof(BridgeHook.PauseDevices), hooks);
            Assert.Contains(nameof(BridgeHook.CheckpointDevices), hooks);
            Assert.Contains(nameof(BridgeHook.Exit), hooks);
            // Without --leave-running CRIU ends the process; the pid is free once it is reaped.
            await counter.WaitForExitAsync(new CancellationTokenSource(Timeout).Token);
            var saved = Counts(count).Length;
            Assert.True(ProcessManifest.Verify(images).Ok);

            var restore = await Gpuckpt(null, "restore", "--criu", "--images", images, "--json");
            Assert.True(restore.ExitCode == 0, restore.ToString());
            restored = JsonDocument.Parse(restore.Stdout).RootElement.GetProperty("pid").GetUInt32();
            Assert.Equal((uint)pid, restored);
            // Its memory came back: the counter goes on from the saved value (1, 2, …, saved, saved + 1, …), never from 1 again.
            var after = await CountsReaching(count, saved + 10);
            Assert.True(after.Length >= saved + 10);
            var verify = await Gpuckpt(null, "verify", images);
            Assert.True(verify.ExitCode == 0, verify.ToString());
        }
        finally
        {
            if (!counter.HasExited) counter.Kill();
            if (restored != 0) Native.Libc.Kill((int)restored, 9);
        }
    }

    [Fact]
    public async Task A_process_whose_session_leader_is_in_an_outer_pid_namespace_is_refused_before_criu_runs_and_runs_on()
    {
        // In a new pid namespace the shell and its `sleep` keep the session of a leader outside it (getsid gives 0), as a
        // job started by `docker exec` or a CI runner does; CRIU cannot dump such a task.
        var images = Dir("outer-session");
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        const string script = "sleep 600 & target=$!; \"$0\" \"$1\" checkpoint --criu --pid $target --images \"$2\" --state-dir \"$3\"; rc=$?; " +
                              "kill -0 $target && echo \"still running: $target\"; kill $target; exit $rc";
        var start = new ProcessStartInfo("unshare") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--pid", "--fork", "--mount-proc", "sh", "-c", script, dotnet, Path.Combine(AppContext.BaseDirectory, "gpuckpt.dll"), images, Dir("state") })
            start.ArgumentList.Add(a);
        using var run = Process.Start(start)!;
        var stdout = run.StandardOutput.ReadToEndAsync();
        var stderr = run.StandardError.ReadToEndAsync();
        await run.WaitForExitAsync(new CancellationTokenSource(Timeout).Token);
        var output = $"exit {run.ExitCode}\nstdout: {await stdout}\nstderr: {await stderr}";
        Assert.True(run.ExitCode == 1, output);
        Assert.Contains("session leader is in an outer pid namespace", await stderr);
        Assert.Contains("setsid", await stderr);
        Assert.Contains("still running: ", await stdout);
        Assert.False(Directory.Exists(images), $"nothing was written: {output}");
    }

    [Fact]
    public async Task A_gpu_only_image_given_to_restore_criu_is_refused_in_one_line()
    {
        var gpuOnly = Dir("gpu-only");
        Directory.CreateDirectory(gpuOnly);
        File.WriteAllText(Path.Combine(gpuOnly, ImageManifest.FileName), "{}");
        var run = await Gpuckpt(null, "restore", "--criu", "--images", gpuOnly);
        Assert.Equal(2, run.ExitCode);
        Assert.Equal($"gpuckpt: {gpuOnly} holds a GPU-only checkpoint (no process.json): restore it with `gpuckpt restore --driver sim:SOCKET --images {gpuOnly}`",
            run.Stderr.Trim());
        var empty = Dir("empty");
        Directory.CreateDirectory(empty);
        run = await Gpuckpt(null, "restore", "--criu", "--images", empty);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("is no whole-process checkpoint: it has no process.json", run.Stderr);
        Assert.Single(run.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public async Task A_whole_process_image_whose_gpu_image_failed_is_refused_in_one_line_and_nothing_is_restored()
    {
        var images = Dir("failed-gpu");
        Directory.CreateDirectory(images);
        File.WriteAllBytes(Path.Combine(images, "core-4242.img"), [1, 2, 3]);
        var gpu = BridgeSession.GpuImageDir(images);
        using (var sim = new Simulation.TestSimulator(gpus: 1))
        {
            var pid = sim.Client.Spawn(global::Gpuckpt.Simulator.WorkloadRequest.Named("tiny", 5, sizeBytes: 1UL << 20));
            await using var engine = global::Gpuckpt.Actors.EngineHost.Start(sim.Client, name: "failed-gpu-image");
            var reply = await engine.CheckpointAsync(new global::Gpuckpt.Actors.Checkpoint.CheckpointRequest(pid, gpu, LeaveRunning: true), Timeout);
            Assert.True(reply is global::Gpuckpt.Actors.Checkpoint.CheckpointCompleted, reply.ToString());
        }
        BridgeGpuFiles.Store(images, [new BridgeGpuFile(7, IsKfd: true, 0, 0)]);
        ProcessManifest.Write(images, 4242, "4.2.1", BridgeSession.GpuDirectory);
        var before = ProcessManifest.Verify(images);
        Assert.True(before.Ok, $"the image verifies until its GPU image is marked failed: {before.Describe()}");
        // CRIU's dump failed after the GPU image was committed: the dump's exit hook marked it failed.
        ManifestCodec.Store(gpu, ManifestCodec.Load(gpu) with { State = ImageState.Failed, FailureReason = "criu dump failed (-1) after the GPU image was committed" });
        var run = await Gpuckpt(null, "restore", "--criu", "--images", images);
        Assert.NotEqual(0, run.ExitCode);
        Assert.StartsWith($"gpuckpt: {images} does not verify, nothing was restored: ", run.Stderr.Trim());
        Assert.Single(run.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public async Task No_criu_or_a_criu_too_old_is_refused_before_anything_is_touched()
    {
        var old = Dir("criu-3.17");
        File.WriteAllText(old, "#!/bin/sh\necho Version: 3.17\n");
        BridgeHarness.Chmod(old, 0x1ed);
        var images = Dir("images");
        var self = $"{Environment.ProcessId}";
        var tooOld = await Gpuckpt(new Dictionary<string, string> { ["GPUCKPT_CRIU"] = old }, "checkpoint", "--criu", "--pid", self, "--images", images);
        Assert.Equal(1, tooOld.ExitCode);
        Assert.Equal($"gpuckpt: {old} is CRIU 3.17, too old: whole-process checkpoints need 4.2 or later ({CriuInstall.InstallHint})", tooOld.Stderr.Trim());
        var none = await Gpuckpt(new Dictionary<string, string> { ["GPUCKPT_CRIU"] = Dir("nowhere") }, "checkpoint", "--criu", "--pid", self, "--images", images);
        Assert.Equal(1, none.ExitCode);
        Assert.StartsWith("gpuckpt: CRIU is not installed: whole-process checkpoints need criu 4.2 or later", none.Stderr.Trim());
        Assert.False(Directory.Exists(images));
        var both = await Gpuckpt(null, "checkpoint", "--criu", "--driver", "kfd", "--pid", self, "--images", images);
        Assert.Equal(2, both.ExitCode);
        Assert.Contains("--criu and --driver exclude each other", both.Stderr);
    }

    [Fact]
    public void A_bridge_that_was_not_built_is_named_with_what_to_do()
    {
        var empty = Dir("no-bridge");
        Directory.CreateDirectory(empty);
        var e = Assert.Throws<InvalidOperationException>(() => CriuInstall.Require(empty));
        Assert.Equal($"the CRIU bridge (gpuckpt_bridge.so) is not built in {empty}: install CRIU's plugin header ({CriuInstall.InstallHint}) and rebuild gpuckpt", e.Message);
        // doctor says the same, with the fix.
        var check = CriuInstall.BridgeCheck(empty);
        Assert.False(check.Ok);
        Assert.Contains(CriuInstall.InstallHint, check.Fix);
        Assert.True(CriuInstall.BridgeCheck().Ok, "the build put gpuckpt_bridge.so beside gpuckpt");
    }
}
