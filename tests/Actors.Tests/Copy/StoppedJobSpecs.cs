using Akka.Actor;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Copy;

/// <summary>
/// Two checkpoints share one engine's buffer pool, BOs mapped with mmap(2); one of them is stopped in the middle of
/// its copy, at a point drawn each time, while its I/O is provably under way. The other's image must verify and
/// restore equal to its process every time: a buffer given back while a stopped job's task still writes into it, or a
/// BO unmapped under such a task, would put another job's bytes in the image (with a checksum that matches them) or
/// touch unmapped memory. Every buffer is back in the pool once the stopped job's tasks end.
/// </summary>
public sealed class StoppedJobSpecs(ITestOutputHelper output) : EngineSpec(output)
{
    private const ulong WorkloadBytes = 8UL << 20;

    [Fact]
    public Task A_job_stopped_mid_copy_never_touches_the_buffers_or_mappings_of_another() => StopMidCopy(times: 3);

    [Fact]
    [Trait("Tier", "Full")]
    public Task A_job_stopped_mid_copy_never_touches_the_buffers_or_mappings_of_another_100_times() => StopMidCopy(times: 100);

    private async Task StopMidCopy(int times)
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        using var node = new SimNode(gpus: 2);
        for (var round = 0; round < times; round++)
        {
            var failure = await Round(node, random, round);
            Assert.True(failure is null, $"seed {seed}, round {round}: {failure}");
        }
    }

    /// <summary>One stop at a drawn point; null when the other job's image verified and restored equal.</summary>
    private async Task<string?> Round(SimNode node, Random random, int round)
    {
        using var dirs = new TempDir();
        var victim = node.Client.Spawn(WorkloadRequest.Named("train", (ulong)random.NextInt64(1, long.MaxValue), WorkloadBytes));
        var bystander = node.Client.Spawn(WorkloadRequest.Named("train", (ulong)random.NextInt64(1, long.MaxValue), WorkloadBytes));
        node.Client.Run(bystander, (ulong)random.Next(1, 4));
        var digest = node.Client.State(bystander).Digest;
        var passing = random.Next(0, 24);
        using var gated = new MmapDriver(node.Client, gated: true, passing);
        using var mapped = new MmapDriver(node.Client);
        var victimJobs = Jobs(gated);
        var jobs = Jobs(mapped);
        var victimReplies = CreateTestProbe();
        var id = JobsActor.NewId(JobsActor.CheckpointPrefix);

        victimJobs.Tell(new CheckpointRequest(victim, dirs.Sub("victim"), LeaveRunning: true, JobId: id), victimReplies.Ref);
        await gated.Held.WaitAsync(JobTimeout);
        jobs.Tell(new CheckpointRequest(bystander, dirs.Sub("bystander"), LeaveRunning: true), TestActor);
        // Stopped as a job actor stops when it dies (a system message: no client message could stop it mid-copy).
        var job = ((ActorRefWithCell)victimJobs).GetSingleChild(id);
        var watcher = CreateTestProbe();
        watcher.Watch(job);
        job.Stop();
        await watcher.ExpectTerminatedAsync(job, JobTimeout);
        // The stopped job's I/O held at the gate goes on now, after its actors (and their PostStop) are gone.
        gated.Open();
        await victimReplies.ExpectMsgAsync<CheckpointFailed>(JobTimeout);

        var reply = await ExpectMsgAsync<ICheckpointMessage>(JobTimeout);
        if (reply is not CheckpointCompleted) return $"the other checkpoint did not complete: {reply}";
        var verified = ImageVerifier.Verify(dirs.Sub("bystander"));
        if (!verified.Ok) return $"the other job's image fails to verify: {verified.File} at {verified.Offset}: {verified.Reason}";
        jobs.Tell(new RestoreRequest(dirs.Sub("bystander")), TestActor);
        if (await ExpectMsgAsync<IRestoreMessage>(JobTimeout) is not RestoreCompleted restored) return "the other job's image did not restore";
        var copy = node.Client.State(restored.Summary.Pid).Digest;
        if (copy != digest) return $"the other job's image restored {copy}, its process had {digest} (stopped after {passing} mapping uses)";

        // The stopped job's tasks end on their own once the gate is open; their buffers come back then.
        await AllBuffersBack();
        var problems = new List<string>();
        if (gated.UsesAfterUnmap + mapped.UsesAfterUnmap is var unmapped and > 0) problems.Add($"{unmapped} uses of a BO mapping after it was unmapped");
        if (Pool.Free != Pool.Capacity) problems.Add($"{Pool.Capacity - Pool.Free} of {Pool.Capacity} buffers never came back to the pool");
        if (problems.Count > 0) return $"{string.Join("; ", problems)} (stopped after {passing} mapping uses)";
        foreach (var pid in new[] { victim, bystander, restored.Summary.Pid }) node.Client.Kill(pid);
        Out.WriteLine($"round {round}: stopped after {passing} mapping uses; the other image restored equal");
        return null;
    }

    /// <summary>Waits until every buffer of the pool is back (each rented as soon as it is given back, then returned), or JobTimeout passes.</summary>
    private async Task AllBuffersBack()
    {
        using var deadline = new CancellationTokenSource(JobTimeout);
        var leases = new List<ChunkPool.Lease>();
        try
        {
            while (leases.Count < Pool.Capacity) leases.Add(await Pool.RentAsync(deadline.Token));
        }
        catch (OperationCanceledException)
        {
            // Reported below: the pool's free count says how many never came back.
        }
        finally
        {
            foreach (var lease in leases) lease.Dispose();
        }
    }
}
