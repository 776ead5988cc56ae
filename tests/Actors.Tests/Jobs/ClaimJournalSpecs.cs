using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Claims;
using Gpuckpt.Simulator;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Jobs;

/// <summary>
/// A claim the journal cannot record is a journal failure, said as one: the checkpoint is answered at once naming the
/// process and the journal's error (not a race with another engine), and nothing is paused.
/// </summary>
public class ClaimJournalSpecs(ITestOutputHelper output) : EngineSpec(output, JournalFaults.Config)
{
    [Fact]
    public async Task A_claim_the_journal_cannot_record_fails_the_checkpoint_naming_the_journal_error_before_any_pause()
    {
        using var node = new SimNode(gpus: 1);
        using var images = new TempDir();
        var pid = node.Client.Spawn(WorkloadRequest.Named("tiny", 8));
        await JournalFaults.FailWritesOf<Claimed>(Sys);

        Jobs(node.Client).Tell(new CheckpointRequest(pid, images.Path, LeaveRunning: true), TestActor);
        var failed = await ExpectMsgAsync<CheckpointFailed>(TimeSpan.FromSeconds(10));

        Assert.Contains($"cannot claim process {node.Client.Name}|{pid}", failed.Reason);
        Assert.Contains("journal disk failed writing Claimed", failed.Reason);
        Assert.DoesNotContain("another engine", failed.Reason);
        Assert.False(failed.Unpaused);
        var state = node.Client.State(pid);
        Assert.Equal(0, state.Counters.ProcessInfo);
        Assert.False(state.Paused);
        // Long enough for a second reply the job would send after its journal write fails (a retry, a late completion) to arrive.
        await ExpectNoMsgAsync(TimeSpan.FromSeconds(2));
    }
}
