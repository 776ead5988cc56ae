using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Faults;

/// <summary>
/// A copy that stalls: one chunk's I/O never returns (an injected stall that hangs until its attempt is cancelled, so
/// only the engine's own chunk-timeout can end it). Once, the attempt times out and is retried to an image
/// byte-identical to an undisturbed one; on every attempt, the job fails cleanly naming the BO, the chunk and
/// ETIMEDOUT, and a restore rolls back leaving nothing on the device. Every case is a row of faults.md.
/// </summary>
[Trait("Tier", "Full")]
public sealed class CopyStallSpecs(ITestOutputHelper output)
    : FaultTableSpec(output, $"gpuckpt.copy.chunk-timeout = {TimeoutSeconds}s\ngpuckpt.copy.retry.first-backoff = 1ms")
{
    private const int TimeoutSeconds = 2;

    [Fact]
    public async Task A_stalled_chunk_times_out_and_is_retried_or_fails_the_job_cleanly()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        using var node = new SimNode(gpus: 2);
        using var dir = new TempDir();
        var failures = new List<string>();

        var pid = Spawn(node);
        var undisturbed = dir.Sub("undisturbed");
        await Checkpoint(node.Client, pid, undisturbed, leaveRunning: true);
        var digest = node.Client.State(pid).Digest;
        var devices = KfdDevices(undisturbed);
        var (device, chunks) = devices[random.Next(devices.Count)];
        var chunk = random.Next(chunks);

        // A BO's read of one chunk hangs once: only the chunk-timeout ends it.
        var once = new ChunkFault(device, chunk, FaultSide.Bo, ChunkIoException.Stall, Times: 1);
        var onceFaults = new ChunkFaults([once]);
        var retried = dir.Sub("stalled-once");
        failures.AddRange(await CheckpointRow(node, pid, retried, $"BO read stalls once ({device} chunk {chunk})", "checkpoint: copy",
            pauses: true, settings: Settings with { Faults = onceFaults },
            check: _ => onceFaults.Hits(once) == 1 ? Differences(undisturbed, retried) : [$"the stall struck {onceFaults.Hits(once)} times"],
            completed: $"completed: the attempt timed out after {TimeoutSeconds} s, was cancelled and retried; image byte-identical to an undisturbed one"));

        // The page-file write of the same chunk hangs on every attempt (one write per attempt): each times out, then the job fails.
        var lasting = new ChunkFault(device, chunk, FaultSide.File, ChunkIoException.Stall, Times: 1000);
        var lastingFaults = new ChunkFaults([lasting]);
        failures.AddRange(await CheckpointRow(node, Spawn(node), dir.Sub("stalled-always"), $"page-file write stalls on every attempt ({device} chunk {chunk})", "checkpoint: copy",
            pauses: true, settings: Settings with { Faults = lastingFaults },
            check: reply => TimedOut(reply is CheckpointFailed f ? f.Reason : null, chunk, lastingFaults.Hits(lasting))));

        // A restore whose read of that chunk hangs on every attempt: rolled back, no process left.
        var restoreFault = new ChunkFault(device, chunk, FaultSide.File, ChunkIoException.Stall, Times: 1000);
        var restoreFaults = new ChunkFaults([restoreFault]);
        failures.AddRange(await RestoreRow(node, undisturbed, $"page-file read stalls on every attempt ({device} chunk {chunk})", "restore: contents",
            digest, reason => !TimedOut(reason, chunk, restoreFaults.Hits(restoreFault)).Any(),
            settings: Settings with { Faults = restoreFaults }));

        Assert.True(failures.Count == 0, $"seed {seed}:\n{string.Join("\n", failures)}");
    }

    /// <summary>Every attempt timed out and the failure says so, naming the BO and the chunk.</summary>
    private IEnumerable<string> TimedOut(string? reason, int chunk, int hits)
    {
        var attempts = Settings.Retry.MaxRetries + 1;
        if (reason is null) yield return "completed although one chunk never answered";
        else if (!reason.Contains("ETIMEDOUT", StringComparison.Ordinal) || !reason.Contains($"no answer within {TimeoutSeconds} s", StringComparison.Ordinal)
                 || !reason.Contains($"after {attempts} attempts", StringComparison.Ordinal) || !reason.Contains($"chunk {chunk} (", StringComparison.Ordinal)
                 || !reason.Contains("BO", StringComparison.Ordinal))
            yield return "the reason does not name the timeout, the attempts, the chunk and the BO";
        if (hits != attempts) yield return $"the stall struck {hits} times, {attempts} attempts expected";
    }
}
