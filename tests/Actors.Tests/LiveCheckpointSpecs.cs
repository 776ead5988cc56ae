using Akka.Actor;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Persistence;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests;

/// <summary>
/// A live checkpoint (what `migrate --live` runs on the source) on the `serve` workload, the process stepping between
/// its rounds: with the simulator's dirty bits a later round and the paused one copy only the chunks of the KV blocks
/// it wrote; without them (a driver that keeps none, as VRAM has none) every chunk is read again and only those whose
/// bytes changed are written. Either way the image restores to a process that goes on exactly like its twin. An engine
/// that stops between rounds leaves a job the next engine finishes as a stop-and-copy checkpoint of the process as it is.
/// </summary>
public class LiveCheckpointSpecs(ITestOutputHelper output) : EngineSpec(output)
{
    private const ulong Size = 32UL << 20;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Rounds_while_the_process_steps_make_an_image_that_restores_equal_to_the_uninterrupted_process(bool dirtyBits)
    {
        using var source = new SimNode(gpus: 1);
        using var target = new SimNode(gpus: 1, idSeed: 7);
        using var root = new TempDir();
        IGpuDriver sourceDriver = dirtyBits ? source.Client : new NoDirtyBits(source.Client);
        var pid = source.Client.Spawn(WorkloadRequest.Named("serve", 404, sizeBytes: Size));
        var twin = source.Client.Spawn(WorkloadRequest.Named("serve", 404, sizeBytes: Size));
        source.Client.Run(pid, 2);
        source.Client.Run(twin, 2);

        Jobs(sourceDriver).Tell(new LiveCheckpointRequest(new CheckpointRequest(pid, root.Sub("img"), LeaveRunning: false, ReportChunks: true)), TestActor);
        var (first, _) = await Round();
        Assert.True(first.Bytes >= (long)(Size / 8 * 7), $"the first round copied {first.Bytes} bytes of {Size}");
        Assert.True(source.Client.State(pid).Running, "the process is not running during the rounds");
        // It runs on between the rounds: each step rewrites two of its 32 KV blocks.
        source.Client.Run(pid, 3);
        // Nothing stepped while the first round copied: its dirty bits say so; a driver without them cannot tell (-1).
        Assert.Equal(dirtyBits ? 0 : -1, first.DirtyBytes);
        LastSender.Tell(new LiveRoundNext(false));
        var (second, secondWritten) = await Round();
        Out.WriteLine($"dirty bits {dirtyBits}: round 1 {first.Bytes} bytes, round 2 {second.Bytes} bytes read, {secondWritten} sent");
        if (dirtyBits) Assert.True(second.Bytes * 10 <= first.Bytes, $"round 2 read {second.Bytes} bytes for three steps of two KV blocks");
        else Assert.Equal(first.Bytes, second.Bytes);
        Assert.True(secondWritten > 0 && secondWritten * 10 <= first.Bytes, $"round 2 sent {secondWritten} bytes for three steps of two KV blocks");
        source.Client.Run(pid, 2);
        LastSender.Tell(new LiveRoundNext(true));
        var lastWritten = 0L;
        var done = await FishForMessageAsync<object>(m =>
        {
            if (m is ImageChunkWritten w) lastWritten += w.Length;
            return m is CheckpointCompleted or CheckpointFailed;
        }, JobTimeout);
        var summary = Assert.IsType<CheckpointCompleted>(done).Summary;
        Assert.True(summary.LeftPaused, "the last round leaves the process paused (for the move)");
        Assert.True(lastWritten > 0 && lastWritten * 10 <= first.Bytes, $"the paused round wrote {lastWritten} bytes for two steps of two KV blocks");
        var counters = source.Client.State(pid).Counters;
        Assert.True(counters.ProcessInfo == 2 && counters.Unpause == 1, $"paused to list the BOs, unpaused, paused for the last round: {counters}");

        var restored = await Restore(target.Client, root.Sub("img"));
        source.Client.Run(twin, 3 + 2 + 4);
        target.Client.Run(restored.Pid, 4);
        var (copy, uninterrupted) = (target.Client.State(restored.Pid), source.Client.State(twin));
        Assert.True(copy.Step == uninterrupted.Step && copy.Digest == uninterrupted.Digest,
            $"dirty bits {dirtyBits}: restored step {copy.Step} digest {copy.Digest}; twin step {uninterrupted.Step} digest {uninterrupted.Digest}");
    }

    [Fact]
    public async Task A_live_checkpoint_whose_engine_stops_between_rounds_is_finished_by_the_next_as_a_stop_and_copy_checkpoint()
    {
        using var node = new SimNode(gpus: 1);
        using var root = new TempDir();
        var pid = node.Client.Spawn(WorkloadRequest.Named("serve", 405, sizeBytes: Size));
        node.Client.Run(pid, 2);
        var job = JobsActor.NewId(JobsActor.CheckpointPrefix);
        var request = new CheckpointRequest(pid, root.Sub("img"), LeaveRunning: false, JobId: job);

        await using (var engine = EngineHost.Start(node.Client, JournalConfig.Load("journal-sqlite.conf", root.Sub("state")).WithFallback(EngineConfig.Load())))
        {
            var round = await engine.Jobs.Ask<LiveRoundCopied>(new LiveCheckpointRequest(request), JobTimeout);
            Assert.Equal(0, round.Round);
        }
        // The engine is gone between rounds, nobody to say what comes next; the process runs on and changes.
        Assert.True(node.Client.State(pid).Running);
        node.Client.Run(pid, 3);

        await using (var engine = EngineHost.Start(node.Client, JournalConfig.Load("journal-sqlite.conf", root.Sub("state")).WithFallback(EngineConfig.Load())))
        {
            var resumed = await engine.Jobs.Ask<ICheckpointMessage>(new ResumeJob(job), JobTimeout);
            var summary = Assert.IsType<CheckpointCompleted>(resumed).Summary;
            Assert.True(summary.LeftPaused, "the job ends as it was asked to: the process left paused for its move");
            var paused = node.Client.State(pid);
            Assert.True(paused.Paused && paused.Counters.ProcessInfo == 2 && paused.Counters.Unpause == 1,
                $"paused to list the BOs, unpaused, paused again by the restarted engine: {paused}");

            // The image holds the process as it is now, paused: not the bytes of the round before the stop.
            var restored = await engine.RestoreAsync(new Restore.RestoreRequest(root.Sub("img")), JobTimeout);
            var copy = Assert.IsType<Restore.RestoreCompleted>(restored).Summary;
            Assert.Equal(paused.Digest, node.Client.State(copy.Pid).Digest);
        }
    }

    /// <summary>The next running round's report, and the bytes of the chunks it wrote into the image meanwhile.</summary>
    private async Task<(LiveRoundCopied Round, long Written)> Round()
    {
        var written = 0L;
        var round = await FishForMessageAsync<object>(m =>
        {
            if (m is ImageChunkWritten w) written += w.Length;
            if (m is CheckpointFailed f) throw new Xunit.Sdk.XunitException($"the live checkpoint failed: {f.Reason}");
            return m is LiveRoundCopied;
        }, JobTimeout);
        return ((LiveRoundCopied)round, written);
    }

    /// <summary>A driver that keeps no dirty bits (as a GPU's VRAM keeps none).</summary>
    private sealed class NoDirtyBits(IGpuDriver inner) : ForwardingDriver(inner)
    {
        public override DirtyWrites? WrittenSince(uint pid, ulong since) => null;
    }
}
