using Akka.Actor;
using Gpuckpt.Actors.Copy;
using Spectre.Console;

namespace Gpuckpt.Host;

/// <summary>Progress bars per device on a terminal, fed by the engine's <see cref="DeviceProgress"/> events.</summary>
public static class ProgressView
{
    /// <summary>Runs <paramref name="job"/>; when <paramref name="interactive"/>, shows one bar per device while it runs.</summary>
    public static async Task<T> Run<T>(ActorSystem system, bool interactive, string title, Func<Task<T>> job)
    {
        if (!interactive) return await job();
        return await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                var gate = new object();
                void Update(DeviceProgress p)
                {
                    lock (gate)
                    {
                        if (!tasks.TryGetValue(p.Device, out var task))
                            tasks[p.Device] = task = ctx.AddTask($"{title} {Markup.Escape(p.Device)}", maxValue: Math.Max(1, p.BytesTotal));
                        task.Value = p.BytesDone;
                    }
                }
                var listener = system.ActorOf(Listener.Props(Update));
                system.EventStream.Subscribe(listener, typeof(DeviceProgress));
                try
                {
                    return await job();
                }
                finally
                {
                    system.EventStream.Unsubscribe(listener);
                    system.Stop(listener);
                }
            });
    }

    private sealed class Listener : ReceiveActor
    {
        public Listener(Action<DeviceProgress> update) => Receive<DeviceProgress>(update);

        public static Props Props(Action<DeviceProgress> update) => Akka.Actor.Props.Create(() => new Listener(update));
    }
}
