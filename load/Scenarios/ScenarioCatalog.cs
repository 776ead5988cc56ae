using System.Text.Json;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Simulator;
using Gpuckpt.Host;

namespace Gpuckpt.Load.Scenarios;

/// <summary>The scenarios `gpuckpt-load run` knows, each a `train` workload of a given size.</summary>
public static class ScenarioCatalog
{
    public const string Small = "small-checkpoints", Large = "large-checkpoints", RoundTrip = "round-trip", Migrate = "migrate", Mix = "mix";
    public static readonly string[] Names = [Small, Large, RoundTrip, Migrate, Mix];
    private static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(10);

    public static LoadScenario Named(string name, ScenarioSizes sizes, IReadOnlyList<(string Name, int Weight)> mix) => name switch
    {
        Small => Checkpoints(Small, sizes.Small),
        Large => Checkpoints(Large, sizes.Large),
        RoundTrip => RoundTrips(sizes.Small),
        Migrate => Migrations(sizes.Small),
        Mix => Mixed(mix.Select(m => (Named(m.Name, sizes, []), m.Weight)).ToList()),
        _ => throw new ArgumentException($"unknown scenario '{name}' (one of {string.Join(", ", Names)})"),
    };

    /// <summary>Checkpoints of a running process (left running), one process per iteration.</summary>
    public static LoadScenario Checkpoints(string name, ulong size) => new(name, ["checkpoint"], async c =>
    {
        var t = c.Target;
        var pid = t.Spawn(t.Simulator, WorkloadRequest.Named("train", (ulong)c.Number + 1, sizeBytes: size));
        var images = t.NewDirectory("images");
        try
        {
            t.Simulator.Run(pid, 1);
            await c.Step("checkpoint", () => Checkpoint(t, pid, images));
        }
        finally
        {
            t.Kill(t.Simulator, pid);
            Remove(images);
        }
    });

    /// <summary>Checkpoint, restore, then both copies run on and must hold the same bytes.</summary>
    public static LoadScenario RoundTrips(ulong size) => new(RoundTrip, ["checkpoint", "restore", "verify"], async c =>
    {
        var t = c.Target;
        var pid = t.Spawn(t.Simulator, WorkloadRequest.Named("train", (ulong)c.Number + 1000, sizeBytes: size));
        uint? restored = null;
        var images = t.NewDirectory("images");
        try
        {
            t.Simulator.Run(pid, 2);
            await c.Step("checkpoint", () => Checkpoint(t, pid, images));
            await c.Step("restore", async () =>
            {
                var reply = await t.Engine.RestoreAsync(new RestoreRequest(images), JobTimeout);
                if (reply is not RestoreCompleted done) throw new LoadError("restore-failed", (reply as RestoreFailed)?.Reason ?? $"{reply}");
                restored = t.Adopt(t.Simulator, done.Summary.Pid);
                return new StepOutcome(done.Summary.Bytes);
            });
            await c.Step("verify", () =>
            {
                t.Simulator.Run(pid, 3);
                t.Simulator.Run(restored!.Value, 3);
                var (original, copy) = (t.Simulator.State(pid).Digest, t.Simulator.State(restored.Value).Digest);
                if (original != copy) throw new LoadError("digest-mismatch", $"pid {restored} restored from {images} continued to digest {copy}, its original pid {pid} to {original}");
                return Task.FromResult(StepOutcome.None);
            });
        }
        finally
        {
            t.Kill(t.Simulator, pid);
            if (restored is { } r) t.Kill(t.Simulator, r);
            Remove(images);
        }
    });

    /// <summary>`gpuckpt migrate` from node a to node b; the moved process must continue like its twin left on a.</summary>
    public static LoadScenario Migrations(ulong size) => new(Migrate, ["migrate", "verify"], async c =>
    {
        var t = c.Target;
        var (a, b) = (t.NodeA!, t.NodeB!);
        var seed = (ulong)c.Number + 5000;
        var pid = t.Spawn(a, WorkloadRequest.Named("train", seed, sizeBytes: size));
        var twin = t.Spawn(a, WorkloadRequest.Named("train", seed, sizeBytes: size));
        uint? moved = null;
        try
        {
            a.Run(pid, 2);
            a.Run(twin, 2);
            await c.Step("migrate", async () =>
            {
                string output;
                try
                {
                    output = await LocalNodes.Run(["migrate", "--pid", $"{pid}", "--from", "a", "--to", "b", "--node", t.Nodes!.Endpoint("b"), "--json"], t.Gpuckpt, t.Nodes.ClusterDir)
                        .WaitAsync(JobTimeout, c.Token);
                }
                catch (InvalidOperationException e)
                {
                    throw new LoadError("migrate-failed", e.Message);
                }
                var m = JsonDocument.Parse(output).RootElement;
                moved = t.Adopt(b, m.GetProperty("target_pid").GetUInt32());
                // The migration released the source: it is gone from node a.
                t.Forget(a, pid);
                return new StepOutcome(m.GetProperty("image_bytes").GetInt64(), m.GetProperty("pause_seconds").GetDouble());
            });
            await c.Step("verify", () =>
            {
                b.Run(moved!.Value, 1);
                a.Run(twin, 1);
                var (there, here) = (b.State(moved.Value).Digest, a.State(twin).Digest);
                if (there != here) throw new LoadError("digest-mismatch", $"pid {moved} migrated to b continued to digest {there}, its twin pid {twin} on a to {here}");
                return Task.FromResult(StepOutcome.None);
            });
        }
        finally
        {
            t.Kill(a, pid);
            t.Kill(a, twin);
            if (moved is { } m) t.Kill(b, m);
        }
    }, NeedsNodes: true);

    /// <summary>
    /// Each iteration runs one of the scenarios in proportion to its weight, interleaved (smooth weighted round robin:
    /// weights 5, 4, 1 run each part 5, 4 and 1 times in every 10 iterations, spread out); its steps are named after it
    /// ("round-trip/restore").
    /// </summary>
    public static LoadScenario Mixed(IReadOnlyList<(LoadScenario Scenario, int Weight)> parts)
    {
        if (parts.Count == 0) throw new ArgumentException("a mix needs at least one scenario with a weight");
        var total = parts.Sum(p => p.Weight);
        var current = new long[parts.Count];
        var slots = new LoadScenario[total];
        for (var slot = 0; slot < total; slot++)
        {
            for (var i = 0; i < parts.Count; i++) current[i] += parts[i].Weight;
            var best = Array.IndexOf(current, current.Max());
            current[best] -= total;
            slots[slot] = parts[best].Scenario;
        }
        return new LoadScenario(Mix, [.. parts.SelectMany(p => p.Scenario.Steps.Select(s => $"{p.Scenario.Name}/{s}"))], c =>
        {
            var chosen = slots[(c.Number - 1) % total];
            return chosen.Body(new IterationContext(c, chosen.Name));
        }, parts.Any(p => p.Scenario.NeedsNodes));
    }

    private static async Task<StepOutcome> Checkpoint(LoadTarget t, uint pid, string images)
    {
        var reply = await t.Engine.CheckpointAsync(new CheckpointRequest(pid, images, LeaveRunning: true), JobTimeout);
        return reply is CheckpointCompleted done
            ? new StepOutcome(done.Summary.Bytes, done.Summary.PauseSeconds)
            : throw new LoadError("checkpoint-failed", (reply as CheckpointFailed)?.Reason ?? $"{reply}");
    }

    private static void Remove(string dir)
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
    }
}
