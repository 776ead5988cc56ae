using Gpuckpt.Engine.Native;
using Gpuckpt.Simulator;
using Gpuckpt.Simulator.Workloads;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Simulation;

/// <summary>
/// The simulator's VRAM stays resident, as a GPU's does: a process killed leaves its VRAM's pages in the memory files,
/// the next process's VRAM BOs take them (the files do not grow), and that process is exactly the one a fresh
/// simulator makes from the same seed (a BO in reused VRAM reads zeros until written, as one in fresh pages does).
/// </summary>
public sealed class ResidentVramSpecs
{
    private static long Resident(TestSimulator sim) =>
        Directory.EnumerateFiles(sim.Server.MemoryDir, "*.mem", SearchOption.AllDirectories).Sum(Libc.AllocatedBytes);

    /// <summary>VRAM BOs of sizes that do not tile one another, so the second process's BOs fall across the first's.</summary>
    private static WorkloadRequest Vram(int seed, params ulong[] sizes) => new(null, (ulong)seed,
        SpecJson: new WorkloadSpec { Gpus = 1, KfdBos = [.. sizes.Select(s => new KfdBoSpec { Size = s })], Links = [] }.ToJson());

    [Fact]
    public void A_process_in_the_vram_another_freed_is_the_one_fresh_vram_would_hold_and_the_memory_does_not_grow()
    {
        var seed = TestSeed.Fresh();
        using var reused = new TestSimulator(gpus: 1);
        using var fresh = new TestSimulator(gpus: 1);
        var first = reused.Client.Spawn(Vram(seed, 24UL << 20, 4UL << 20, 36UL << 20));
        reused.Client.Run(first, 3);
        var held = Resident(reused);
        Assert.True(held >= 64L << 20, $"seed {seed}: the workload's BOs hold {held} bytes, not its 64 MiB");

        reused.Client.Kill(first);
        var afterKill = Resident(reused);
        Assert.True(afterKill >= 64L << 20, $"seed {seed}: the killed process's 64 MiB of VRAM went back ({afterKill} bytes left)");
        var second = reused.Client.Spawn(Vram(seed + 1, 8UL << 20, 40UL << 20, 12UL << 20));
        var twin = fresh.Client.Spawn(Vram(seed + 1, 8UL << 20, 40UL << 20, 12UL << 20));

        // Its 60 MiB of VRAM lie in the pages the first left; only what is not VRAM may take fresh ones.
        Assert.True(Resident(reused) - afterKill < 16L << 20, $"seed {seed}: the second process took fresh pages: {Resident(reused)} bytes held, {afterKill} before");
        Assert.Equal(fresh.Client.State(twin).Digest, reused.Client.State(second).Digest);
        reused.Client.Run(second, 5);
        fresh.Client.Run(twin, 5);
        Assert.Equal(fresh.Client.State(twin).Digest, reused.Client.State(second).Digest);
    }

    [Fact]
    public void A_simulator_started_with_resident_vram_holds_it_and_places_a_process_s_vram_in_it()
    {
        var seed = TestSeed.Fresh();
        const long resident = 96L << 20;
        using var warm = new TestSimulator(gpus: 1, residentVram: resident);
        using var fresh = new TestSimulator(gpus: 1);
        // The first VRAM BO waits for the zeros written behind the start.
        var pid = warm.Client.Spawn(Vram(seed, 24UL << 20, 4UL << 20, 36UL << 20));
        var twin = fresh.Client.Spawn(Vram(seed, 24UL << 20, 4UL << 20, 36UL << 20));

        // The 96 MiB are held, and the process's 64 MiB of VRAM lie inside them: only what is not VRAM takes fresh pages.
        var held = Resident(warm);
        Assert.True(held >= resident, $"seed {seed}: {held} bytes held, not the {resident} made resident");
        Assert.True(held - resident < 16L << 20, $"seed {seed}: the process took fresh pages: {held} bytes held, {resident} resident");
        Assert.Equal(fresh.Client.State(twin).Digest, warm.Client.State(pid).Digest);
        warm.Client.Run(pid, 5);
        fresh.Client.Run(twin, 5);
        Assert.Equal(fresh.Client.State(twin).Digest, warm.Client.State(pid).Digest);
    }
}
