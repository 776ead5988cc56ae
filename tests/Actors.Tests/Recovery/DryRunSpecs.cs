using System.Text.Json;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Recovery;

public class DryRunSpecs(ITestOutputHelper output) : EngineSpec(output)
{
    [Fact]
    public async Task A_dry_run_prints_the_GPU_map_and_the_stages_and_creates_nothing()
    {
        using var source = new SimNode(gpus: 2);
        using var target = new SimNode(gpus: 2, idSeed: 4);
        using var images = new TempDir();
        var pid = source.Client.Spawn(WorkloadRequest.Named("train", 91, sizeBytes: 4UL << 20));
        await Checkpoint(source.Client, pid, images.Path, leaveRunning: true);
        var before = target.Client.Spawn(WorkloadRequest.Named("tiny", 1));

        var run = await GpuckptProcess.RunAsync(["restore", "--driver", $"sim:{target.Server.SocketPath}", "--images", images.Path, "--dry-run", "--json", "--trust-key", KeyFile],
            new Dictionary<string, string>(), TimeSpan.FromMinutes(1));

        Assert.True(run.ExitCode == 0, run.ToString());
        var plan = JsonDocument.Parse(run.Stdout).RootElement;
        var map = plan.GetProperty("topology").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
        Assert.Equal(source.Client.Topology().Select(g => $"0x{g.GpuId:x}").Order(), map.Keys.Order());
        Assert.Equal(target.Client.Topology().Select(g => $"0x{g.GpuId:x}").Order(), map.Values.Order());
        var stages = plan.GetProperty("stages").EnumerateArray().Select(s => s.GetProperty("name").GetString()).ToList();
        Assert.Equal("verify", stages[0]);
        Assert.Contains("kfd-restore", stages);
        Assert.Contains("render-pass-1", stages);
        Assert.Equal("resume", stages[^1]);
        Assert.Equal(before + 1, target.Client.Spawn(WorkloadRequest.Named("tiny", 2)));
    }

    [Fact]
    public async Task Bad_input_gets_one_line_and_a_non_zero_exit()
    {
        using var images = new TempDir();
        var run = await GpuckptProcess.RunAsync(["verify", images.Sub("missing")], new Dictionary<string, string>(), TimeSpan.FromMinutes(1));

        Assert.NotEqual(0, run.ExitCode);
        Assert.Single(run.Stderr.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("gpuckpt: ", run.Stderr);
    }
}
