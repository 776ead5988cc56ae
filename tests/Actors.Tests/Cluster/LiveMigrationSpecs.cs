using System.Text.Json;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// `gpuckpt migrate --live` between nodes while the process keeps stepping: the copy runs in rounds while it runs, the
/// pause copies only what the last round left, and the moved process continues exactly like a twin stepped as often.
/// </summary>
[Collection(nameof(NodesCollection))]
public sealed class LiveMigrationSpecs(ITestOutputHelper output)
{
    private const ulong Size = 64UL << 20, StepsBefore = 2, StepsAfter = 3;

    [Fact]
    public async Task A_serving_process_moves_while_it_runs_and_is_paused_only_for_what_it_wrote_last()
    {
        // final-bytes 0: a round is never small enough by itself, so the rounds go on until they stop shrinking.
        await using var cluster = new TestCluster(3, null, "gpuckpt.migration.live.final-bytes = 0");
        await cluster.StartAll();
        var a = cluster.Clients["a"];
        var pid = a.Spawn(WorkloadRequest.Named("serve", 21, sizeBytes: Size));
        var twin = a.Spawn(WorkloadRequest.Named("serve", 21, sizeBytes: Size));
        a.Run(pid, StepsBefore);
        a.Run(twin, StepsBefore);

        // The job serves on while it moves: a step each millisecond, until the source is paused for good and released.
        using var stop = new CancellationTokenSource();
        var serving = Task.Run(() => Serve(cluster.Simulators["a"].SocketPath, pid, stop.Token));
        var result = await cluster.CliWithin(TimeSpan.FromMinutes(3), "migrate", "--pid", $"{pid}", "--from", "a", "--to", "b",
            "--node", cluster.Address("c"), "--live", "--json");
        await stop.CancelAsync();
        var steps = await serving;

        output.WriteLine(result.Stdout);
        Assert.True(result.ExitCode == 0, $"migrate --live failed: {result}");
        var json = JsonDocument.Parse(result.Stdout.Split('\n').Last(l => l.StartsWith('{'))).RootElement;
        var rounds = json.GetProperty("live_rounds").EnumerateArray().Select(r => (Bytes: r.GetProperty("bytes").GetInt64(), Paused: r.GetProperty("paused").GetBoolean())).ToList();
        output.WriteLine($"{steps} steps served during the migration; rounds: {string.Join(", ", rounds.Select(r => r.Bytes))}");
        Assert.True(rounds.Count >= 3, $"a first round, a round of what was written meanwhile and the paused one: {rounds.Count} rounds");
        Assert.True(rounds[0].Bytes >= (long)(Size / 8 * 7), $"the first round copies the whole memory: {rounds[0].Bytes} bytes");
        Assert.True(rounds[^1].Paused && rounds.Take(rounds.Count - 1).All(r => !r.Paused), "only the last round is paused");
        // serve rewrites two of its 32 KV blocks per step: the pause copies those chunks, not the weights.
        Assert.True(rounds[^1].Bytes <= (long)(Size / 8), $"the paused round copied {rounds[^1].Bytes} bytes of {Size}");

        var target = json.GetProperty("target_pid").GetUInt32();
        Assert.True(TestCluster.Gone(a, pid), $"pid {pid} still exists on a after the migration");
        var b = cluster.Clients["b"];
        Assert.Equal(1, b.State(target).Counters.Resume);
        a.Run(twin, steps + StepsAfter);
        b.Run(target, StepsAfter);
        var (moved, uninterrupted) = (b.State(target), a.State(twin));
        Assert.True(moved.Step == uninterrupted.Step && moved.Digest == uninterrupted.Digest,
            $"the process moved live: step {moved.Step} digest {moved.Digest}; its twin: step {uninterrupted.Step} digest {uninterrupted.Digest}");
    }

    /// <summary>Steps <paramref name="pid"/> until it is gone, waiting out its pauses; how many steps it ran.</summary>
    private static ulong Serve(string socket, uint pid, CancellationToken stop)
    {
        using var client = SimulatorClient.Connect(socket);
        ulong steps = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                client.Run(pid, 1);
                steps++;
            }
            catch (DriverException e) when (e.ErrorNumber == Errno.EBUSY)
            {
                // Paused: the live copy listing its BOs, or its last round.
            }
            catch (DriverException)
            {
                break; // released on the source
            }
            Thread.Sleep(1);
        }
        return steps;
    }
}
