using Akka.Event;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Jobs;

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
