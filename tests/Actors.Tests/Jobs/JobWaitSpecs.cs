using Akka.Actor;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Simulator;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Jobs;

/// <summary>
/// A client waiting on a job (what every CLI command does) is answered within seconds when the job's actor or the jobs
/// actor stops mid-job, or when the actor it waits on answers nothing, naming the job; a job that runs long is not cut.
/// The job is held in its capture step by a gated driver call, as a hung ioctl would hold it.
/// </summary>
public class JobWaitSpecs(ITestOutputHelper output) : EngineSpec(output, "gpuckpt.jobs.wait { ping-every = 200ms, silence = 3s, answer-grace = 3s }")
{
    /// <summary>What "within seconds" means here: the silence and grace above, with room for a busy two-core host.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_job_whose_actor_is_stopped_mid_job_answers_its_waiter_with_an_error_naming_it()
    {
        using var node = new SimNode(gpus: 1);
        using var images = new TempDir();
        var pid = node.Client.Spawn(WorkloadRequest.Named("tiny", 11));
        using var gated = new GatedDriver(node.Client, () => node.Client.State(pid));
        var jobs = Jobs(gated);
        const string id = "ckpt-stopped-mid-job";

        var wait = JobWait.RunAsync(Sys, jobs, new CheckpointRequest(pid, images.Path, LeaveRunning: true, JobId: id), id, Settings.Wait);
        await gated.Entered.WaitAsync(JobTimeout);
        var follower = CreateTestProbe();
        jobs.Tell(new FollowJob(id), follower.Ref);
        var job = (await follower.ExpectMsgAsync<JobFollowed>(JobTimeout)).Job;
        // Stopped as a crash stops it: a system message, straight to the actor.
        ((IInternalActorRef)job).Stop();

        var failed = Assert.IsType<CheckpointFailed>(await wait.WaitAsync(Bound));
        Assert.Contains($"job {id} stopped before it finished", failed.Reason);
        Assert.Contains($"gpuckpt resume {id}", failed.Reason);
    }

    [Fact]
    public async Task A_job_whose_jobs_actor_is_stopped_mid_job_is_an_error_naming_it_within_seconds()
    {
        using var node = new SimNode(gpus: 1);
        using var images = new TempDir();
        var pid = node.Client.Spawn(WorkloadRequest.Named("tiny", 12));
        using var gated = new GatedDriver(node.Client, () => node.Client.State(pid));
        var jobs = Jobs(gated);
        const string id = "ckpt-jobs-stopped";

        var wait = JobWait.RunAsync(Sys, jobs, new CheckpointRequest(pid, images.Path, LeaveRunning: true, JobId: id), id, Settings.Wait);
        await gated.Entered.WaitAsync(JobTimeout);
        ((IInternalActorRef)jobs).Stop();

        var lost = await Assert.ThrowsAsync<JobLostException>(() => wait.WaitAsync(Bound));
        Assert.Contains($"job {id}", lost.Message);
        Assert.Contains($"gpuckpt resume {id}", lost.Message);
        Assert.Contains($"gpuckpt abort {id}", lost.Message);
    }

    [Fact]
    public async Task A_jobs_actor_that_answers_nothing_is_given_up_on_after_the_configured_silence()
    {
        using var stuck = new ManualResetEventSlim();
        var jobs = Sys.ActorOf(Props.Create(() => new StuckJobs(stuck)));
        const string id = "ckpt-silent-engine";

        var wait = JobWait.RunAsync(Sys, jobs, new CheckpointRequest(1, "/nonexistent", LeaveRunning: true, JobId: id), id, Settings.Wait);

        var lost = await Assert.ThrowsAsync<JobLostException>(() => wait.WaitAsync(Bound));
        stuck.Set();
        Assert.Contains($"job {id} answered nothing for", lost.Message);
        Assert.Contains("gpuckpt.jobs.wait.silence", lost.Message);
    }

    [Fact, Trait("Tier", "Full")]
    public async Task A_job_held_in_one_step_longer_than_the_silence_is_not_cut()
    {
        using var node = new SimNode(gpus: 1);
        using var images = new TempDir();
        var pid = node.Client.Spawn(WorkloadRequest.Named("tiny", 13));
        using var gated = new GatedDriver(node.Client, () => node.Client.State(pid));
        const string id = "ckpt-long-step";

        var wait = JobWait.RunAsync(Sys, Jobs(gated), new CheckpointRequest(pid, images.Path, LeaveRunning: true, JobId: id), id, Settings.Wait);
        await gated.Entered.WaitAsync(JobTimeout);
        // The step lasts three times the silence: the wait must still be on when it ends.
        await Task.Delay(Settings.Wait.Silence * 3);
        Assert.False(wait.IsCompleted, $"the wait ended while the job was in one long step: {wait.Exception?.InnerException?.Message}");
        gated.Release();

        var done = Assert.IsType<CheckpointCompleted>(await wait.WaitAsync(JobTimeout));
        Assert.Equal(id, done.Summary.JobId);
    }

    /// <summary>An engine stuck in a handler: it takes the request, then holds its mailbox until released.</summary>
    private sealed class StuckJobs : ReceiveActor
    {
        public StuckJobs(ManualResetEventSlim stuck)
        {
            Receive<FollowJob>(_ => { });
            Receive<CheckpointRequest>(_ => stuck.Wait());
        }
    }
}
