using Akka.Actor;
using Gpuckpt.Engine.Copy;

namespace Gpuckpt.Actors.Copy;

/// <summary>How a keyed piece of I/O ended: done with a result, waiting to be tried again, or failed for good.</summary>
internal readonly record struct IoOutcome(bool Succeeded, bool Retrying, object? Result, Exception? Error, int Attempts)
{
    /// <summary>The message was about an attempt no longer current: nothing to do.</summary>
    public bool Stale => !Succeeded && !Retrying && Error is null;

    public bool Failed => !Succeeded && !Retrying && Error is not null;
}

/// <summary>
/// Blocking I/O of an actor, keyed (a chunk, a piece): each attempt runs as a task on the I/O dispatcher's threads and
/// comes back as <see cref="IoDone"/>; an attempt that runs past the chunk timeout is cancelled (its token's own
/// timer: no scheduler message per attempt, of which a job of 100 000 BOs has as many), and its retry starts only once
/// it has stopped (never beside it); transient faults are retried with backoff (<see cref="RetryPolicy"/>). Each attempt
/// first takes the holds it needs (a pool buffer, a BO's mapping) and lets go of them only once its task has ended, so a
/// buffer or a mapping outlives every task that uses it even when the owning actor stops mid-copy.
/// The owning actor routes <see cref="IoDone"/> and <see cref="IoRetry"/> here.
/// </summary>
internal sealed class RetryingIo(IActorRef self, ITimerScheduler timers, TaskScheduler io, EngineSettings settings, CancellationToken stop)
{
    private readonly Dictionary<object, Attempt> _running = new();

    /// <summary>Attempts under way or waiting for their retry.</summary>
    public int Count => _running.Count;

    /// <param name="hold">Takes what the attempt's task uses, or answers null when that is already let go (the attempt then fails without running).</param>
    public void Start(object key, Func<CancellationToken, object?> body, Func<IDisposable?>? hold = null)
    {
        var attempt = new Attempt(body, hold, CancellationTokenSource.CreateLinkedTokenSource(stop));
        _running[key] = attempt;
        Run(key, attempt);
    }

    /// <summary>
    /// The first attempt run here, on the owner's thread, for work that takes no longer than a memory copy (a small piece
    /// of a BO the CPU reaches at memory speed): no task, no timer, no message back. Its outcome is the one
    /// <see cref="Handle(IoDone)"/> would give; a retry, if it needs one, runs on the I/O threads as any other.
    /// </summary>
    public IoOutcome RunHere(object key, Func<CancellationToken, object?> body, Func<IDisposable?>? hold = null)
    {
        _running[key] = new Attempt(body, hold, null);
        var held = hold?.Invoke();
        if (hold is not null && held is null)
            return Handle(new IoDone(key, 1, null, LetGo()));
        try
        {
            return Handle(new IoDone(key, 1, body(stop), null));
        }
        catch (Exception e)
        {
            return Handle(new IoDone(key, 1, null, e));
        }
        finally
        {
            held?.Dispose();
        }
    }

    public IoOutcome Handle(IoDone done)
    {
        if (!_running.TryGetValue(done.Key, out var attempt) || attempt.Number != done.Attempt) return default;
        // Cancelled while the owner was not stopping: the attempt ran past the chunk timeout.
        var timedOut = attempt.Cancel?.IsCancellationRequested == true && !stop.IsCancellationRequested;
        attempt.Cancel?.Dispose();
        if (done.Error is null)
        {
            // A late success is a success: the bytes are in place.
            _running.Remove(done.Key);
            return new IoOutcome(true, false, done.Result, null, attempt.Number);
        }
        var error = timedOut ? new TimeoutException($"no answer within {settings.ChunkTimeout.TotalSeconds:0.#} s", done.Error) : done.Error;
        if (!stop.IsCancellationRequested && settings.Retry.ShouldRetry(error, attempt.Number))
        {
            attempt.LastError = error;
            timers.StartSingleTimer(("retry", done.Key), new IoRetry(done.Key), settings.Retry.Backoff(attempt.Number));
            return new IoOutcome(false, true, null, error, attempt.Number);
        }
        _running.Remove(done.Key);
        return new IoOutcome(false, false, null, error, attempt.Number);
    }

    /// <summary>Starts the next attempt, or gives up when the owner is stopping.</summary>
    public IoOutcome Handle(IoRetry retry)
    {
        if (!_running.TryGetValue(retry.Key, out var attempt)) return default;
        if (stop.IsCancellationRequested)
        {
            _running.Remove(retry.Key);
            return new IoOutcome(false, false, null, attempt.LastError ?? new OperationCanceledException(), attempt.Number);
        }
        attempt.Number++;
        attempt.Cancel = CancellationTokenSource.CreateLinkedTokenSource(stop);
        Run(retry.Key, attempt);
        return new IoOutcome(false, true, null, null, attempt.Number);
    }

    private void Run(object key, Attempt attempt)
    {
        var number = attempt.Number;
        var cancel = attempt.Cancel!;
        cancel.CancelAfter(settings.ChunkTimeout);
        var token = cancel.Token;
        var target = self;
        var body = attempt.Body;
        var held = attempt.Hold?.Invoke();
        if (attempt.Hold is not null && held is null)
        {
            target.Tell(new IoDone(key, number, null, LetGo()));
            return;
        }
        Task.Factory.StartNew(() => body(token), token, TaskCreationOptions.DenyChildAttach, io)
            .ContinueWith(t =>
                {
                    // Let go only now: the task can no longer touch the buffer or the mapping.
                    held?.Dispose();
                    target.Tell(t.IsCompletedSuccessfully
                        ? new IoDone(key, number, t.Result, null)
                        : new IoDone(key, number, null, t.Exception?.InnerException ?? new OperationCanceledException("cancelled before it ran")));
                },
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Why an attempt fails without running: what it would use went back with the copy that is stopping.</summary>
    private static ObjectDisposedException LetGo() => new("chunk", "its buffer or mapping was already let go: the copy is stopping");

    /// <param name="cancel">The attempt's own timeout and stop; null for one run on the owner's thread.</param>
    private sealed class Attempt(Func<CancellationToken, object?> body, Func<IDisposable?>? hold, CancellationTokenSource? cancel)
    {
        public Func<CancellationToken, object?> Body { get; } = body;
        public Func<IDisposable?>? Hold { get; } = hold;
        public int Number { get; set; } = 1;
        public Exception? LastError { get; set; }
        public CancellationTokenSource? Cancel { get; set; } = cancel;
    }
}
