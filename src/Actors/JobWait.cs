using System.Diagnostics;
using Akka.Actor;

namespace Gpuckpt.Actors;

/// <summary>
/// A client's wait on one job's answer, bounded by what can be seen rather than by a job's length: it watches the jobs
/// actor and, once the job starts, the job's actor, so that either one stopping becomes an error naming the job within
/// seconds; and it pings the actor it waits on, so that one that answers nothing for <see cref="JobWaitSettings.Silence"/>
/// (its mailbox stuck) is given up on. A long copy answers every ping and is never cut.
/// </summary>
public sealed class JobWait : ReceiveActor, IWithTimers
{
    private readonly IActorRef _jobs;
    private readonly object _request;
    private readonly string? _jobId;
    private readonly JobWaitSettings _settings;
    private readonly TaskCompletionSource<object> _answer;
    private IActorRef? _job;
    private readonly Stopwatch _sinceHeard = Stopwatch.StartNew();
    private long _pings;

    public JobWait(IActorRef jobs, object request, string? jobId, JobWaitSettings settings, TaskCompletionSource<object> answer)
    {
        _jobs = jobs;
        _request = request;
        _jobId = jobId;
        _settings = settings;
        _answer = answer;
        Receive<JobFollowed>(followed =>
        {
            _job = followed.Job;
            Context.Watch(_job);
        });
        Receive<JobPong>(_ => _sinceHeard.Restart());
        Receive<PingTick>(_ => Ping());
        Receive<Terminated>(t => Stopped(t.ActorRef));
        Receive<AnswerGraceOver>(_ => Lose($"{Name} stopped before it answered: `gpuckpt resume {_jobId}` continues it, `gpuckpt abort {_jobId}` ends it"));
        ReceiveAny(Answer);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Sends <paramref name="request"/> to <paramref name="jobs"/> and waits, as described above, for the job's answer.</summary>
    public static Task<object> RunAsync(IActorRefFactory system, IActorRef jobs, object request, string? jobId, JobWaitSettings settings)
    {
        var answer = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
        system.ActorOf(Props(jobs, request, jobId, settings, answer), $"wait-{jobId ?? "job"}-{Guid.NewGuid():N}");
        return answer.Task;
    }

    public static Props Props(IActorRef jobs, object request, string? jobId, JobWaitSettings settings, TaskCompletionSource<object> answer) =>
        Akka.Actor.Props.Create(() => new JobWait(jobs, request, jobId, settings, answer));

    protected override void PreStart()
    {
        Context.Watch(_jobs);
        if (_jobId is not null) _jobs.Tell(new FollowJob(_jobId));
        _jobs.Tell(_request);
        Timers.StartPeriodicTimer(PingTick.Instance, PingTick.Instance, _settings.PingEvery);
    }

    protected override void PostStop() =>
        _answer.TrySetException(new JobLostException($"{Name} was still running when its engine stopped"));

    private string Name => _jobId is null ? "the job" : $"job {_jobId}";

    private void Ping()
    {
        var silent = _sinceHeard.Elapsed;
        if (silent > _settings.Silence)
        {
            Lose($"{Name} answered nothing for {silent.TotalSeconds:F0} s (gpuckpt.jobs.wait.silence): its engine is stuck; it is left as it " +
                 $"stands{(_jobId is null ? "" : $": `gpuckpt resume {_jobId}` continues it, `gpuckpt abort {_jobId}` ends it")}");
            return;
        }
        (_job ?? _jobs).Tell(new JobPing(++_pings));
    }

    private void Stopped(IActorRef actor)
    {
        if (actor.Equals(_jobs))
            Lose($"the engine's jobs actor stopped before {Name} answered" +
                 (_jobId is null ? "" : $": `gpuckpt resume {_jobId}` continues it, `gpuckpt abort {_jobId}` ends it"));
        // The jobs actor answers for a job that died, with the reason it was told: that answer is given time to arrive.
        else if (actor.Equals(_job)) Timers.StartSingleTimer(AnswerGraceOver.Instance, AnswerGraceOver.Instance, _settings.AnswerGrace);
    }

    private void Answer(object answer)
    {
        if (answer is Status.Failure refused) _answer.TrySetException(refused.Cause);
        else _answer.TrySetResult(answer);
        Context.Stop(Self);
    }

    private void Lose(string reason)
    {
        _answer.TrySetException(new JobLostException(reason));
        Context.Stop(Self);
    }

    private sealed class PingTick : INoSerializationVerificationNeeded
    {
        public static readonly PingTick Instance = new();
        private PingTick() { }
    }

    private sealed class AnswerGraceOver : INoSerializationVerificationNeeded
    {
        public static readonly AnswerGraceOver Instance = new();
        private AnswerGraceOver() { }
    }
}
