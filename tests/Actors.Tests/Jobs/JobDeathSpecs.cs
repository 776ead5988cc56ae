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
