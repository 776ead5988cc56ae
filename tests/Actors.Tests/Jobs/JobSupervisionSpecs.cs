using Akka.Event;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Jobs;

/// <summary>A job whose journal fails dies; its client is answered at once, with the reason.</summary>
public class JobDeathSpecs(ITestOutputHelper output) : EngineSpec(output, JournalFaults.Config)
{
    [Fact]
    public async Task A_job_that_dies_is_answered_with_a_failure_naming_the_cause()
    {
        using var node = new SimNode(gpus: 1);
        using var images = new TempDir();
        var pid = node.Client.Spawn(WorkloadRequest.Named("tiny", 5));
        await JournalFaults.FailWritesOf<ImageCommitted>(Sys);

        Jobs(node.Client).Tell(new CheckpointRequest(pid, images.Path, LeaveRunning: true), TestActor);
        var failed = await ExpectMsgAsync<CheckpointFailed>(JobTimeout);

        Assert.Contains("ImageCommitted", failed.Reason);
        Assert.Contains("journal disk failed", failed.Reason);
        Assert.Contains("gpuckpt resume", failed.Reason);
        // A restarted job would answer again within its first journal write: ample time on a busy host.
        await ExpectNoMsgAsync(TimeSpan.FromSeconds(2));
    }
}

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

/// <summary>A step that times out is cancelled and waited for: nothing else happens beside it.</summary>
public class StepTimeoutSpecs(ITestOutputHelper output) : EngineSpec(output, "gpuckpt.op-timeout = 5s\ngpuckpt.jobs.step-cancel-grace = 2m")
{
    [Fact]
    public async Task A_timed_out_step_is_cancelled_and_the_process_unpaused_only_after_it_stopped()
    {
        using var node = new SimNode(gpus: 1);
        using var images = new TempDir();
        var pid = node.Client.Spawn(WorkloadRequest.Named("tiny", 7));
        using var gated = new GatedDriver(node.Client, () => node.Client.State(pid));
        var warnings = CreateTestProbe();
        Sys.EventStream.Subscribe(warnings.Ref, typeof(Warning));

        Jobs(gated).Tell(new CheckpointRequest(pid, images.Path, LeaveRunning: true), TestActor);
        await gated.Entered.WaitAsync(JobTimeout);
        // Held until the job has given up on the step: a job that went on beside it would unpause from here on.
        await warnings.FishForMessageAsync<Warning>(w => w.Message.ToString()!.Contains("step capture timed out"), JobTimeout);
        gated.Release();
        var failed = await ExpectMsgAsync<CheckpointFailed>(JobTimeout);

        var atRelease = Assert.IsType<SimProcessState>(gated.ObservedAtRelease);
        Assert.True(atRelease.Paused && atRelease.Counters.Unpause == 0, "the job unpaused the process while its timed-out step still ran");
        Assert.Contains("capture: timed out", failed.Reason);
        Assert.Contains("cancelled", failed.Reason);
        Assert.True(failed.Unpaused);
        Assert.Equal(1, node.Client.State(pid).Counters.Unpause);
        Assert.Equal(ImageState.Failed, ManifestCodec.Load(images.Path).State);
    }
}
