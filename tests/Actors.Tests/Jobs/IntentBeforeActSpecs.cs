using Akka.Event;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Jobs;

/// <summary>UNPAUSE is an act whose intent is journalled first: when that record cannot be written, nothing is unpaused.</summary>
public class IntentBeforeActSpecs(ITestOutputHelper output) : EngineSpec(output, JournalFaults.Config)
{
    [Fact]
    public async Task Unpause_is_never_issued_before_its_intent_is_in_the_journal()
    {
        using var node = new SimNode(gpus: 1);
        using var images = new TempDir();
        var pid = node.Client.Spawn(WorkloadRequest.Named("tiny", 6));
        await JournalFaults.FailWritesOf<UnpauseIntended>(Sys);
        // The job fails while paused, so its failure path wants to unpause: first it must journal that it will.
        node.Client.InjectFault(new SimFault(pid, SimOp.GemMappingInfo, Engine.Devices.Errno.EIO));

        Jobs(node.Client).Tell(new CheckpointRequest(pid, images.Path, LeaveRunning: true), TestActor);
        var failed = await ExpectMsgAsync<CheckpointFailed>(JobTimeout);

        Assert.Contains("UnpauseIntended", failed.Reason);
        var state = node.Client.State(pid);
        Assert.True(state.Paused, "the process was unpaused although the intent to unpause never reached the journal");
        Assert.Equal(0, state.Counters.Unpause);
    }
}
