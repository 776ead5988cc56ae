using Akka.Actor;

namespace Gpuckpt.Actors;

/// <summary>Look at the journal and take the next step.</summary>
internal sealed class Continue : INoSerializationVerificationNeeded
{
    public static readonly Continue Instance = new();
    private Continue() { }
}

/// <summary>Journal the progress events queued so far.</summary>
internal sealed class FlushProgress : INoSerializationVerificationNeeded
{
    public static readonly FlushProgress Instance = new();
    private FlushProgress() { }
}

/// <summary>A step of a job failed: its task threw, or it timed out and was cancelled.</summary>
public sealed record StepFailed(string Step, Exception Error) : INoSerializationVerificationNeeded;

/// <summary>The task of step <paramref name="Id"/> ended with a result or an exception.</summary>
internal sealed record StepDone(long Id, object? Result, Exception? Error) : INoSerializationVerificationNeeded;

/// <summary>Step <paramref name="Id"/> ran past its timeout: cancel it.</summary>
internal sealed record StepTimedOut(long Id) : INoSerializationVerificationNeeded;

/// <summary>A cancelled step <paramref name="Id"/> did not stop within the grace period.</summary>
internal sealed record StepGraceOver(long Id) : INoSerializationVerificationNeeded;

/// <summary>A job tells its parent that it replied to its client and stops.</summary>
public sealed record JobEnded(string JobId);

/// <summary>A job tells its parent why it is about to die (a handler threw, the journal failed).</summary>
public sealed record JobCrashed(string JobId, string Reason);

/// <summary>What a job publishes on the event stream while it runs (progress views listen).</summary>
public interface IJobProgress;

/// <summary>How long one phase of a job took (pause, capture, copy, commit, unpause; verify, device state, passes, contents, resume).</summary>
public sealed record PhaseTime(string Phase, double Seconds);

/// <summary>Job <paramref name="JobId"/> entered <paramref name="Phase"/>; <paramref name="Done"/> are the phases behind it.</summary>
public sealed record JobPhaseStarted(string JobId, string Phase, IReadOnlyList<PhaseTime> Done) : IJobProgress;

/// <summary>Take the journalled job <paramref name="JobId"/> up again and do <paramref name="Control"/> with it.</summary>
public sealed record ControlJob(string JobId, JobControl Control);

/// <summary>
/// The user interrupted the command running job <paramref name="JobId"/> (<paramref name="Signal"/>: SIGINT or SIGTERM): it
/// stops short of its end, undoes its pause, and stays in the journal, interrupted, for `resume` or `abort`.
/// </summary>
public sealed record InterruptJob(string JobId, string Signal);

/// <summary>Tell the sender <see cref="JobFollowed"/> when job <paramref name="JobId"/> starts (or at once, if it runs).</summary>
public sealed record FollowJob(string JobId);

/// <summary>Job <paramref name="JobId"/> runs as <paramref name="Job"/>: its waiter watches it.</summary>
public sealed record JobFollowed(string JobId, IActorRef Job);

/// <summary>Are you there? Every job and the jobs actor answer <see cref="JobPong"/>, between any two of their steps.</summary>
public sealed record JobPing(long Seq);

public sealed record JobPong(long Seq);
