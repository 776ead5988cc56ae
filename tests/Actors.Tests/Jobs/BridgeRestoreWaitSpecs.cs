using Akka.Actor;
using Gpuckpt.Actors.Bridge;
using Gpuckpt.Engine.Bridge;
using Xunit;

namespace Gpuckpt.Actors.Tests.Jobs;

/// <summary>
/// A whole-process restore waits on the engine's restore job inside CRIU's hooks; an engine whose jobs actor is gone
/// fails the hook at once with the reason, instead of holding CRIU's restore until a fixed bound runs out.
/// </summary>
public sealed class BridgeRestoreWaitSpecs
{
    [Fact]
    public async Task A_bridge_restore_whose_jobs_actor_stopped_fails_at_once_naming_it()
    {
        using var driver = new BridgeRestoreDriver();
        await using var engine = EngineHost.Start(driver, (string?)null, "bridge-restore-wait");
        var watcher = engine.System.ActorOf(Props.Create(() => new Watcher(engine.Jobs)));
        var stopped = await watcher.Ask<Terminated>(Watcher.Stop, TimeSpan.FromSeconds(30));
        Assert.Equal(engine.Jobs, stopped.ActorRef);

        var restores = new BridgeRestores(engine);
        var images = Directory.CreateTempSubdirectory("gpuckpt-bridge-wait-").FullName;
        try
        {
            // A generous bound that only keeps a broken build from hanging the run; the answer comes in well under it.
            var outcome = await restores.BuildAsync(images, CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(2));
            Assert.False(outcome.Ok);
            Assert.Contains("jobs actor stopped", outcome.Summary, StringComparison.Ordinal);
            var resumed = await restores.ResumeAsync(CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(2));
            Assert.False(resumed.Ok);
        }
        finally
        {
            Directory.Delete(images, recursive: true);
        }
    }

    /// <summary>Stops the actor it watches when told, and answers with its Terminated.</summary>
    private sealed class Watcher : ReceiveActor
    {
        public const string Stop = "stop";
        private IActorRef? _asker;

        public Watcher(IActorRef watched)
        {
            Context.Watch(watched);
            Receive<string>(_ =>
            {
                _asker = Sender;
                watched.Tell(PoisonPill.Instance);
            });
            Receive<Terminated>(t => _asker?.Tell(t));
        }
    }
}
