using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;

namespace Gpuckpt.Actors;

/// <summary>
/// The shape every job shares: it is persistent (each step that matters is journalled, so a restarted engine continues
/// it from the journal: waiting → <see cref="Next"/> → … → finish); what an event allows is done only once the event is
/// durable (<see cref="Record"/>); blocking steps run as cancellable tasks with a timeout (<see cref="RunStep{T}"/>), one
/// at a time, and a step that times out is cancelled and waited for before anything else happens; snapshots are taken
/// every <see cref="EngineSettings.SnapshotEvery"/> events and older events trimmed. Its parent learns when it ends and
/// why it died, if it dies.
/// </summary>
public abstract class PersistentJob<TState, TEvent> : ReceivePersistentActor, IWithTimers
    where TState : class, IJobState<TEvent>, new()
    where TEvent : class
{
    private readonly List<PhaseTime> _phases = [];
    private readonly List<TEvent> _progress = [];
    private string? _phase;
    private TimeSpan _phaseStart;
    private Step? _step;
    private long _stepIds;
    private long _eventsSinceSnapshot;

    protected PersistentJob(string jobId, EngineSettings settings, IActorRef replyTo)
    {
        JobId = jobId;
        Settings = settings;
        ReplyTo = replyTo;
        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is TState state) State = state;
        });
        Recover<TEvent>(Apply);
        Recover<RecoveryCompleted>(_ =>
        {
            RecoverySeconds = Clock.Elapsed.TotalSeconds;
            Self.Tell(Continue.Instance);
        });
        Command<Continue>(_ => Next());
        Command<JobPing>(ping => Sender.Tell(new JobPong(ping.Seq)));
        Command<FlushProgress>(_ => WriteProgress());
        Command<StepDone>(OnStepDone);
        Command<StepTimedOut>(OnStepTimedOut);
        Command<StepGraceOver>(OnStepGraceOver);
        Command<SaveSnapshotSuccess>(s =>
        {
            DeleteMessages(s.Metadata.SequenceNr);
            DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1));
        });
        Command<SaveSnapshotFailure>(_ => { });
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(_ => { });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected string JobId { get; }
    protected EngineSettings Settings { get; }
    protected IActorRef ReplyTo { get; }
    protected TState State { get; private set; } = new();
    protected Stopwatch Clock { get; } = Stopwatch.StartNew();

    /// <summary>Seconds from the actor's start until the journal was replayed.</summary>
    protected double RecoverySeconds { get; private set; }

    /// <summary>True while a step's task runs (or a cancelled one has not stopped yet).</summary>
    protected bool StepRunning => _step is not null;

    /// <summary>Decides the next step from what the journal says is done.</summary>
    protected abstract void Next();

    /// <summary>Ends the current phase and starts <paramref name="name"/>, telling progress views (what the user waits for, timed).</summary>
    protected void BeginPhase(string name)
    {
        if (_phase == name) return;
        EndPhase();
        _phase = name;
        _phaseStart = Clock.Elapsed;
        Context.System.EventStream.Publish(new JobPhaseStarted(JobId, name, _phases.ToArray()));
    }

    /// <summary>Ends the current phase; the phases so far with their times.</summary>
    protected IReadOnlyList<PhaseTime> EndPhase()
    {
        if (_phase is not null) _phases.Add(new PhaseTime(_phase, (Clock.Elapsed - _phaseStart).TotalSeconds));
        _phase = null;
        // A plain array: messages and events carry no compiler-made collection types (the serializer refuses those).
        return _phases.ToArray();
    }

    /// <summary>The failure this job answers with when it cannot go on at all (its journal cannot be read).</summary>
    protected abstract object FailureOutcome(string reason);

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        ReplyTo.Tell(FailureOutcome($"journal of job {JobId} could not be read: {reason.Message}"));
        Context.Parent.Tell(new JobEnded(JobId));
        base.OnRecoveryFailure(reason, message);
    }

    /// <summary>Journals <paramref name="e"/>, applies it, and only then does <paramref name="then"/>: intent is durable before the act.</summary>
    protected void Record(TEvent e, Action? then = null) => Persist(e, ev =>
    {
        Apply(ev);
        Counted();
        then?.Invoke();
    });

    /// <summary>Journals several events in one write (one fsync of the journal), applies them, then does <paramref name="then"/>.</summary>
    protected void Record(IReadOnlyList<TEvent> events, Action then)
    {
        var left = events.Count;
        PersistAll(events, ev =>
        {
            Apply(ev);
            Counted();
            if (--left == 0) then();
        });
    }

    /// <summary>Journals a record of what happened without holding up what follows (nothing waits on it being durable).</summary>
    protected void RecordAfter(TEvent e) => PersistAsync(e, ev =>
    {
        Apply(ev);
        Counted();
    });

    /// <summary>
    /// Queues a progress event (a chunk landed); queued events are journalled together, one write for up to
    /// <see cref="EngineSettings.JournalBatch"/> of them or after <see cref="EngineSettings.JournalFlush"/>, so persisting
    /// progress costs little. One not yet written when the engine dies is only work to redo (its chunk is copied again).
    /// </summary>
    protected void QueueProgress(TEvent e)
    {
        _progress.Add(e);
        if (_progress.Count >= Settings.JournalBatch) WriteProgress();
        else if (_progress.Count == 1) Timers.StartSingleTimer(nameof(FlushProgress), FlushProgress.Instance, Settings.JournalFlush);
    }

    /// <summary>Journals the queued progress events now (before a step that needs them, such as a commit).</summary>
    protected void WriteProgress()
    {
        Timers.Cancel(nameof(FlushProgress));
        if (_progress.Count == 0) return;
        var batch = _progress.ToArray();
        _progress.Clear();
        PersistAllAsync(batch, ev =>
        {
            Apply(ev);
            Counted();
        });
    }

    private void Apply(TEvent e)
    {
        State.Apply(e);
        Applied(e);
    }

    /// <summary>An event was applied to <see cref="State"/>, journalled now or replayed: what a job keeps beside its snapshot type.</summary>
    protected virtual void Applied(TEvent e) { }

    /// <summary>
    /// Whether the job snapshots its state. One whose events say more than its snapshot type holds (a journalled type
    /// keeps its fields) does not: it is rebuilt from every event.
    /// </summary>
    protected virtual bool Snapshots => true;

    private void Counted()
    {
        if (!Snapshots || ++_eventsSinceSnapshot < Settings.SnapshotEvery) return;
        _eventsSinceSnapshot = 0;
        SaveSnapshot(State.Snapshot());
    }

    /// <summary>
    /// Runs a blocking step as a task with the job's step timeout. <paramref name="then"/> gets its result on the actor;
    /// <paramref name="failed"/> gets its exception, or a timeout once the cancelled task has stopped (or the grace
    /// period has passed). A late result of a step given up on is disposed when it is disposable.
    /// </summary>
    protected void RunStep<T>(string name, Func<CancellationToken, T> body, Action<T> then, Action<StepFailed> failed) where T : notnull
    {
        if (_step is not null) throw new InvalidOperationException($"step {name} started while step {_step.Name} runs");
        var id = ++_stepIds;
        var cancel = new CancellationTokenSource();
        _step = new Step(id, name, cancel, r => then((T)r), failed);
        var self = Self;
        var token = cancel.Token;
        Task.Run(() => (object)body(token), token).ContinueWith(t => self.Tell(t.IsCompletedSuccessfully
                ? new StepDone(id, t.Result, null)
                : new StepDone(id, null, Unwrap(t.Exception) ?? new OperationCanceledException($"{name} was cancelled"))),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        Timers.StartSingleTimer(("step", id), new StepTimedOut(id), Settings.OpTimeout);
    }

    private static Exception? Unwrap(AggregateException? e) => e is { InnerException: { } inner } ? inner : e;

    private void OnStepDone(StepDone done)
    {
        if (_step is not { } step || step.Id != done.Id)
        {
            // A step already given up on: what it opened is closed, nothing else happens.
            (done.Result as IDisposable)?.Dispose();
            return;
        }
        _step = null;
        Timers.Cancel(("step", done.Id));
        Timers.Cancel(("grace", done.Id));
        step.Cancel.Dispose();
        if (step.TimedOut)
        {
            (done.Result as IDisposable)?.Dispose();
            step.Failed(new StepFailed(step.Name, new TimeoutException($"timed out after {Settings.OpTimeout.TotalSeconds:0.#} s and was cancelled")));
        }
        else if (done.Error is not null) step.Failed(new StepFailed(step.Name, done.Error));
        else step.Then(done.Result!);
    }

    private void OnStepTimedOut(StepTimedOut timeout)
    {
        if (_step is not { } step || step.Id != timeout.Id) return;
        step.TimedOut = true;
        Context.GetLogger().Warning("job {0}: step {1} timed out after {2:0.#} s; cancelled, waiting for it to stop",
            JobId, step.Name, Settings.OpTimeout.TotalSeconds);
        step.Cancel.Cancel();
        Timers.StartSingleTimer(("grace", step.Id), new StepGraceOver(step.Id), Settings.StepCancelGrace);
    }

    private void OnStepGraceOver(StepGraceOver over)
    {
        if (_step is not { } step || step.Id != over.Id) return;
        _step = null;
        step.Failed(new StepFailed(step.Name, new TimeoutException(
            $"timed out after {Settings.OpTimeout.TotalSeconds:0.#} s and did not stop within {Settings.StepCancelGrace.TotalSeconds:0.#} s of being cancelled")));
    }

    /// <summary>Answers the client, tells the parent the job ended, and stops.</summary>
    protected void Reply(object outcome)
    {
        ReplyTo.Tell(outcome);
        Context.Parent.Tell(new JobEnded(JobId));
        Context.Stop(Self);
    }

    protected override bool AroundReceive(Receive receive, object message)
    {
        try
        {
            return base.AroundReceive(receive, message);
        }
        catch (Exception e)
        {
            // The reason reaches users: the exception's type stays in the actor system's log.
            Context.Parent.Tell(new JobCrashed(JobId, e.Message));
            throw;
        }
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        Context.Parent.Tell(new JobCrashed(JobId, $"the journal could not store the job's progress: {cause.Message}"));
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        Context.Parent.Tell(new JobCrashed(JobId, $"the journal rejected the job's progress: {cause.Message}"));
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(0, TimeSpan.Zero, _ => Directive.Stop);

    protected override void PostStop()
    {
        _step?.Cancel.Cancel();
        base.PostStop();
    }

    private sealed class Step(long id, string name, CancellationTokenSource cancel, Action<object> then, Action<StepFailed> failed)
    {
        public long Id { get; } = id;
        public string Name { get; } = name;
        public CancellationTokenSource Cancel { get; } = cancel;
        public Action<object> Then { get; } = then;
        public Action<StepFailed> Failed { get; } = failed;
        public bool TimedOut { get; set; }
    }
}
