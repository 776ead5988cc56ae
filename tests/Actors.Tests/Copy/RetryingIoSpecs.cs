using Akka.Actor;
using Gpuckpt.Actors.Copy;
using Gpuckpt.Engine.Devices;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Copy;

/// <summary>
/// A piece of I/O run on its actor's own thread (<see cref="RetryingIo.RunHere"/>, as a BO actor copies a small piece
/// of memory) ends as one run on the I/O threads would: a transient fault is retried there, with the same count of
/// attempts and the same backoff, and a lasting one fails at once, naming its errno; what it held is let go either way.
/// </summary>
public sealed class RetryingIoSpecs(ITestOutputHelper output) : EngineSpec(output)
{
    [Fact]
    public void A_piece_run_here_that_meets_a_transient_fault_is_retried_on_the_io_threads_and_lands()
    {
        var owner = Sys.ActorOf(Props.Create(() => new Owner(Settings, TestActor, 1, Errno.EIO)));

        owner.Tell("go");

        var ended = ExpectMsg<Ended>(TimeSpan.FromSeconds(10));
        Assert.True(ended.Outcome.Succeeded, ended.ToString());
        Assert.Equal(2, ended.Outcome.Attempts);
        Assert.Equal("done", ended.Outcome.Result);
        // The first attempt ran where the actor runs; its retry on one of the engine's I/O threads.
        Assert.False(ended.Threads[0].StartsWith("gpuckpt-io-", StringComparison.Ordinal), string.Join(", ", ended.Threads));
        Assert.StartsWith("gpuckpt-io-", ended.Threads[1]);
        Assert.Equal(0, ended.Held);
    }

    [Fact]
    public void A_piece_run_here_that_meets_a_lasting_fault_fails_at_once_with_its_errno()
    {
        var owner = Sys.ActorOf(Props.Create(() => new Owner(Settings, TestActor, int.MaxValue, Errno.EINVAL)));

        owner.Tell("go");

        var ended = ExpectMsg<Ended>(TimeSpan.FromSeconds(10));
        Assert.True(ended.Outcome.Failed, ended.ToString());
        Assert.Equal(1, ended.Outcome.Attempts);
        Assert.Equal(Errno.EINVAL, ended.Outcome.Error!.HResult);
        Assert.Single(ended.Threads);
        Assert.Equal(0, ended.Held);
    }

    private sealed record Ended(IoOutcome Outcome, IReadOnlyList<string> Threads, int Held) : INoSerializationVerificationNeeded
    {
        public override string ToString() => $"{Outcome} on {string.Join(", ", Threads)}, {Held} held";
    }

    /// <summary>Runs one piece here whose first <paramref name="failures"/> attempts fail with <paramref name="errno"/>.</summary>
    private sealed class Owner(EngineSettings settings, IActorRef report, int failures, int errno) : UntypedActor, IWithTimers
    {
        private readonly List<string> _threads = [];
        private RetryingIo _io = null!;
        private int _held;

        public ITimerScheduler Timers { get; set; } = null!;

        protected override void PreStart() =>
            _io = new RetryingIo(Self, Timers, IoThreads.For(Context.System), settings, CancellationToken.None);

        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case "go": End(_io.RunHere("piece", Body, Hold)); break;
                case IoRetry retry: End(_io.Handle(retry)); break;
                case IoDone done: End(_io.Handle(done)); break;
            }
        }

        private object? Body(CancellationToken cancel)
        {
            lock (_threads)
            {
                _threads.Add(Thread.CurrentThread.Name ?? $"unnamed {Environment.CurrentManagedThreadId}");
                if (_threads.Count <= failures) throw new IOException("injected", errno);
            }
            return "done";
        }

        private IDisposable Hold()
        {
            Interlocked.Increment(ref _held);
            return new Release(() => Interlocked.Decrement(ref _held));
        }

        private void End(IoOutcome outcome)
        {
            if (outcome.Stale || outcome.Retrying) return;
            lock (_threads) report.Tell(new Ended(outcome, [.. _threads], Volatile.Read(ref _held)));
        }

        private sealed class Release(Action release) : IDisposable
        {
            public void Dispose() => release();
        }
    }
}
