using System.Text.Json;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// The README's first commands as a user runs them: `gpuckpt demo` (checkpoint on one embedded machine, restore on
/// the other) and `gpuckpt demo --cluster` (a migration between two node processes) end with a process whose
/// continuation equals a run of the same workload that was never interrupted — computed here, not by the demo.
/// </summary>
[Collection(nameof(NodesCollection))]
public sealed class DemoSpecs(ITestOutputHelper output)
{
    private const ulong Size = 32UL << 20, Steps = 2, Seed = 2026;
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task The_demo_restores_train_on_the_other_machine_and_it_continues_like_an_uninterrupted_run()
    {
        var result = await GpuckptProcess.RunAsync(["demo", "--size", $"{Size}", "--steps", $"{Steps}", "--seed", $"{Seed}", "--json"], timeout: Limit);
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, $"demo failed: {result}");
        var restored = Json(result).GetProperty("restored");
        Assert.Equal(Uninterrupted(), (restored.GetProperty("step").GetUInt64(), restored.GetProperty("digest").GetString()));
    }

    [Fact]
    [Trait("Tier", "Full")]
    public async Task The_cluster_demo_migrates_train_between_node_processes_and_one_copy_continues_like_an_uninterrupted_run()
    {
        var result = await GpuckptProcess.RunAsync(["demo", "--cluster", "--size", $"{Size}", "--steps", $"{Steps}", "--seed", $"{Seed}", "--json"],
            timeout: Limit);
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, $"cluster demo failed: {result}");
        var json = Json(result);
        Assert.True(json.GetProperty("source_released").GetBoolean(), $"the source still runs on a: {result}");
        var target = json.GetProperty("target");
        Assert.Equal("b", target.GetProperty("node").GetString());
        Assert.Equal(Uninterrupted(), (target.GetProperty("step").GetUInt64(), target.GetProperty("digest").GetString()));
    }

    [Fact]
    [Trait("Tier", "Full")]
    public async Task The_live_cluster_demo_moves_a_serving_process_while_it_runs_and_it_continues_like_an_uninterrupted_run()
    {
        var result = await GpuckptProcess.RunAsync(["demo", "--cluster", "--live", "--size", $"{Size}", "--steps", $"{Steps}", "--seed", $"{Seed}", "--json"],
            timeout: Limit);
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, $"live cluster demo failed: {result}");
        var json = Json(result);
        Assert.True(json.GetProperty("source_released").GetBoolean(), $"the source still runs on a: {result}");
        var rounds = json.GetProperty("live_rounds").EnumerateArray().Select(r => r.GetProperty("bytes").GetInt64()).ToList();
        Assert.True(rounds.Count >= 2 && rounds[^1] * 4 <= rounds[0], $"a running round of the whole memory, then a paused one of what it wrote: {string.Join(", ", rounds)}");
        // The steps it served while it moved happened too: the reference takes them.
        var served = json.GetProperty("steps_served_while_moving").GetUInt64();
        var target = json.GetProperty("target");
        Assert.Equal(Uninterrupted("serve", served), (target.GetProperty("step").GetUInt64(), target.GetProperty("digest").GetString()));
    }

    /// <summary>The same workload on a machine of its own, run through both halves of the demo's steps (and those it served while it moved) without a stop.</summary>
    private static (ulong Step, string Digest) Uninterrupted(string workload = "train", ulong served = 0)
    {
        var dir = Directory.CreateTempSubdirectory("gpuckpt-demo-reference-").FullName;
        try
        {
            using var machine = SimulatorServer.Start(new SimulatorOptions(Path.Combine(dir, "sim.sock")) { Gpus = 2, IdSeed = 0 });
            using var client = SimulatorClient.Connect(machine.SocketPath);
            var pid = client.Spawn(WorkloadRequest.Named(workload, Seed, sizeBytes: Size));
            client.Run(pid, 2 * Steps + served);
            var state = client.State(pid);
            return (state.Step, state.Digest);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static JsonElement Json(GpuckptProcess.Result result) =>
        JsonDocument.Parse(result.Stdout.Split('\n').LastOrDefault(l => l.StartsWith('{'))
                           ?? throw new Xunit.Sdk.XunitException($"no JSON line from gpuckpt: {result}")).RootElement;
}
