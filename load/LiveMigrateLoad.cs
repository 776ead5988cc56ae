using System.Text.Json;
using Gpuckpt.Host;
using Gpuckpt.Simulator;

namespace Gpuckpt.Load;

/// <summary>
/// `gpuckpt-load migrate --live`: a `serve` process (an inference server: it rewrites two of its 32 KV blocks a step)
/// stepping every millisecond on node a, moved to node b stop-and-copy and live, alternately, each beside a twin. Prints
/// each migration's pause (the time the job ran nowhere), the live ones' rounds and bytes per round, and whether every
/// moved process went on like its twin. The first pair after the nodes start is a warm-up, not counted (the nodes are
/// long-running: their first moves also compile the engine's hot paths on the same two cores); without it, a cold
/// stop-and-copy would be set against a live move on warm nodes.
/// </summary>
public static class LiveMigrateLoad
{
    public static async Task<int> Run(ulong size, string? gpuckpt, int runs)
    {
        var result = await Measure(size, gpuckpt, runs);
        Console.WriteLine($"serve, {size} bytes of BO contents, stepping every millisecond, a -> b on loopback, {CountOfRuns.Describe(runs)}");
        Console.WriteLine($"stop-and-copy: source paused {result.StopPause:F2} s");
        Console.WriteLine($"live: source paused {result.LivePause:F2} s; rounds (bytes each, the last paused): {result.Rounds}");
        Console.WriteLine($"live pause / stop-and-copy pause: {result.Ratio:F2}");
        Console.WriteLine($"every continuation on b equals its uninterrupted twin: {result.Same}");
        return result.Same ? 0 : 1;
    }

    /// <summary>The medians of <paramref name="runs"/> pairs of moves, stop-and-copy then live.</summary>
    public static async Task<LiveMigrateResult> Measure(ulong size, string? gpuckpt, int runs)
    {
        using var machines = TwoMachines.Start("gpuckpt-live-load-");
        var (work, simA, a, b) = (machines.Work, machines.SimA, machines.A, machines.B);
        await using var nodes = await LocalNodes.Start([
            ("a", $"sim:{simA.SocketPath}", Path.Combine(work, "state-a")),
            ("b", $"sim:{machines.SimB.SocketPath}", Path.Combine(work, "state-b")),
        ], Path.Combine(work, "cluster"), gpuckpt);
        var rows = new List<(double StopPause, double LivePause, string Rounds)>();
        var allSame = true;
        var warmStop = await Move(false, 4039);
        var warmLive = await Move(true, 4039);
        allSame &= warmStop.Same && warmLive.Same;
        Console.Error.WriteLine($"warm-up (not counted): stop-and-copy paused {warmStop.Pause:F2} s, live paused {warmLive.Pause:F2} s; " +
                                $"continued on b like their twins: {warmStop.Same && warmLive.Same}");
        for (var run = 0; run < runs; run++)
        {
            var stop = await Move(false, 4040UL + (ulong)run);
            var live = await Move(true, 4040UL + (ulong)run);
            allSame &= stop.Same && live.Same;
            rows.Add((stop.Pause, live.Pause, live.Rounds));
            Console.Error.WriteLine($"run {run + 1}: stop-and-copy paused {stop.Pause:F2} s ({stop.Steps} steps served meanwhile); " +
                                    $"live paused {live.Pause:F2} s ({live.Steps} steps served meanwhile), rounds {live.Rounds}; " +
                                    $"continued on b like their twins: {stop.Same && live.Same}");
        }
        double Median(Func<(double StopPause, double LivePause, string Rounds), double> f) => Statistics.Median.Of(rows, f);
        return new LiveMigrateResult(Median(r => r.StopPause), Median(r => r.LivePause), Median(r => r.LivePause / r.StopPause), rows[rows.Count / 2].Rounds, allSame);

        async Task<(double Pause, string Rounds, ulong Steps, bool Same)> Move(bool isLive, ulong seed)
        {
            var pid = a.Spawn(WorkloadRequest.Named("serve", seed, sizeBytes: size));
            var twin = a.Spawn(WorkloadRequest.Named("serve", seed, sizeBytes: size));
            using var serving = Serving.Start(simA.SocketPath, pid);
            string[] args = ["migrate", "--pid", $"{pid}", "--from", "a", "--to", "b", "--node", nodes.Endpoint("b"), "--json"];
            var output = await LocalNodes.Run(isLive ? [.. args, "--live"] : args, gpuckpt, nodes.ClusterDir);
            var steps = await serving.Stop();
            var m = JsonDocument.Parse(output).RootElement;
            var target = m.GetProperty("target_pid").GetUInt32();
            a.Run(twin, steps + 1);
            b.Run(target, 1);
            var same = b.State(target).Digest == a.State(twin).Digest;
            var rounds = m.TryGetProperty("live_rounds", out var list) && list.ValueKind == JsonValueKind.Array
                ? string.Join(", ", list.EnumerateArray().Select(r => $"{r.GetProperty("bytes").GetInt64()}")) : "";
            b.Kill(target);
            a.Kill(twin);
            return (m.GetProperty("pause_seconds").GetDouble(), rounds, steps, same);
        }
    }
}
