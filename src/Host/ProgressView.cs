using Akka.Actor;
using Gpuckpt.Actors;
using Gpuckpt.Actors.Copy;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Gpuckpt.Host;

/// <summary>
/// What a person waits for, on a terminal: each phase of the job (pause, capture, copy, commit, unpause; verify, device
/// state, passes, contents, resume) with its elapsed time, which stops when the phase ends, and its bar moving with the
/// bytes of its devices (<see cref="PhaseMeter"/>; a phase without bytes shows as running); and one bar per device whose
/// rate is its bytes over the wall time since it started, fed by the engine's <see cref="JobPhaseStarted"/> and
/// <see cref="DeviceProgress"/> events.
/// </summary>
public static class ProgressView
{
    /// <summary>Runs <paramref name="job"/>; when <paramref name="interactive"/>, shows its phases and devices while it runs.</summary>
    public static async Task<T> Run<T>(ActorSystem system, bool interactive, string title, Func<Task<T>> job)
    {
        if (!interactive) return await job();
        StatusLine.Clear();
        var devices = new HashSet<int>();
        return await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new WallRateColumn(devices), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var bars = new Dictionary<string, ProgressTask>();
                var meter = new PhaseMeter();
                ProgressTask? phase = null;
                var gate = new object();
                void Update(object e)
                {
                    lock (gate)
                    {
                        switch (e)
                        {
                            case JobPhaseStarted p:
                                Finish(phase);
                                meter.Begin();
                                phase = ctx.AddTask($"{title}: {Markup.Escape(p.Phase)}", maxValue: 1);
                                phase.IsIndeterminate = true;
                                break;
                            case DeviceProgress d:
                                if (!bars.TryGetValue(d.Device, out var bar))
                                {
                                    bars[d.Device] = bar = ctx.AddTask($"  {Markup.Escape(d.Device)}", maxValue: Math.Max(1, d.BytesTotal));
                                    devices.Add(bar.Id);
                                }
                                bar.Value = d.BytesDone;
                                bar.Description = $"  {Markup.Escape(d.Device)} [grey]{d.BosDone}/{d.BosTotal} BOs[/]";
                                if (d.BytesDone >= d.BytesTotal) bar.StopTask();
                                meter.Device(d);
                                if (phase is not null && meter.Measured)
                                {
                                    phase.IsIndeterminate = false;
                                    phase.MaxValue = meter.Total;
                                    phase.Value = meter.Done;
                                }
                                break;
                        }
                    }
                }
                var listener = system.ActorOf(Listener.Props(Update));
                system.EventStream.Subscribe(listener, typeof(JobPhaseStarted));
                system.EventStream.Subscribe(listener, typeof(DeviceProgress));
                try
                {
                    return await job();
                }
                finally
                {
                    system.EventStream.Unsubscribe(listener);
                    system.Stop(listener);
                    lock (gate) Finish(phase);
                }
            });
    }

    /// <summary>A phase that ended: full, and its clock stopped.</summary>
    private static void Finish(ProgressTask? phase)
    {
        if (phase is null) return;
        phase.IsIndeterminate = false;
        phase.Value = phase.MaxValue;
        phase.StopTask();
    }

    /// <summary>A device's bytes over the wall time since its bar started (not a sampled instant speed).</summary>
    private sealed class WallRateColumn(IReadOnlySet<int> devices) : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime)
        {
            if (!devices.Contains(task.Id) || task.ElapsedTime is not { TotalSeconds: > 0 } elapsed) return Text.Empty;
            return new Markup($"{task.Value / elapsed.TotalSeconds / 1e9:F2} GB/s");
        }
    }

    private sealed class Listener : ReceiveActor
    {
        public Listener(Action<object> update)
        {
            Receive<JobPhaseStarted>(update);
            Receive<DeviceProgress>(update);
        }

        public static Props Props(Action<object> update) => Akka.Actor.Props.Create(() => new Listener(update));
    }
}
