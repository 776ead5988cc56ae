using System.CommandLine;
using Akka.Actor;
using Gpuckpt.Actors.Cluster;
using Gpuckpt.Actors.Migration;
using Spectre.Console;

namespace Gpuckpt.Host.Commands;

/// <summary>`gpuckpt migrate`: move a paused-for-the-move process from one node to another, through any node.</summary>
public static class MigrateCommand
{
    public static Command Create()
    {
        var pid = new Option<uint>("--pid") { Description = "the process to move (on --from)", Required = true };
        var from = new Option<string>("--from") { Description = "source node: its name or HOST:PORT", Required = true };
        var to = new Option<string>("--to") { Description = "target node: its name or HOST:PORT", Required = true };
        var node = new Option<string?>("--node") { Description = "HOST:PORT of any node to ask (default: the first seed node of --config)" };
        var config = new Option<string>("--config") { Description = "node HOCON file naming the seed nodes", DefaultValueFactory = _ => "node.conf" };
        var criu = new Option<bool>("--criu")
        {
            Description = "the whole process: CRIU dumps it on --from, the image goes to --to, CRIU restores it there under its pid (root, CRIU 4.2 on both)",
        };
        var live = new Option<bool>("--live")
        {
            Description = "pre-copy: copy while the process runs, in rounds, and pause it only for what it wrote during the last one",
        };
        var json = Cli.JsonOption();
        var command = new Command("migrate", "move a process to another node: checkpoint, stream, restore, commit, resume there, release here")
            { pid, from, to, node, config, criu, live, json };
        command.SetAction((parse, _) => Cli.Guard(async () =>
        {
            var asJson = parse.GetValue(json);
            StatusLine.Say(Cli.Interactive(asJson), $"connecting to node {parse.GetValue(node) ?? "(first seed of " + parse.GetValue(config) + ")"}…");
            await using var contact = ClusterContact.Open(parse.GetValue(node), parse.GetValue(config)!);
            if (parse.GetValue(live) && parse.GetValue(criu))
                return Cli.Error("--live and --criu cannot be combined: a whole-process move stops the process for CRIU's dump", Cli.ExitBadInput);
            var request = new MigrateRequest(parse.GetValue(pid), parse.GetValue(from)!, parse.GetValue(to)!);
            var interrupted = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var interrupts = new Interrupts(signal => interrupted.TrySetResult(signal));
            LiveRoundsReport? rounds = null;
            var migration = Migrate(contact, request, Cli.Interactive(asJson), parse.GetValue(criu), parse.GetValue(live) ? r => rounds = r : null);
            if (await Task.WhenAny(migration, interrupted.Task) == migration) return Report(await migration, asJson, rounds);
            // The migration is the source node's (journalled, committed or rolled back there): the CLI only stops watching it.
            if (Cli.Interactive(asJson)) AnsiConsole.Cursor.Show();
            return Cli.Error($"interrupted by {interrupts.Signal}: the migration of pid {request.Pid} from {request.From} to {request.To} " +
                             $"goes on in the nodes (it is not cancelled); `gpuckpt cluster status --node {HostPort(contact.NodeAddress)}` shows it",
                interrupts.ExitCode, new { pid = request.Pid, from = request.From, to = request.To, signal = interrupts.Signal, continues = true });
        }));
        return command;
    }

    private static string HostPort(string address) => Address.Parse(address) is { Host: { } host, Port: { } port } ? $"{host}:{port}" : address;

    /// <summary>Asks the contacted node to run the migration and waits for its outcome, with a progress bar when <paramref name="interactive"/>.</summary>
    /// <remarks>
    /// With <paramref name="whole"/>, the whole process moves (<see cref="MigrateProcessRequest"/>, CRIU on both nodes);
    /// with <paramref name="live"/>, it moves live (<see cref="MigrateLiveRequest"/>), and its rounds are told there.
    /// </remarks>
    internal static Task<IMigrationMessage> Migrate(ClusterContact contact, MigrateRequest request, bool interactive, bool whole = false,
        Action<LiveRoundsReport>? live = null)
    {
        IMigrationMessage message = whole ? new MigrateProcessRequest(request.Pid, request.From, request.To)
            : live is not null ? new MigrateLiveRequest(request.Pid, request.From, request.To) : request;
        return interactive ? WithProgress(contact, request, message, live) : Run(contact, message, _ => { }, live);
    }

    private static async Task<IMigrationMessage> WithProgress(ClusterContact contact, MigrateRequest request, IMigrationMessage message, Action<LiveRoundsReport>? live)
    {
        var rate = new RecentRate(RateWindow());
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var gate = new object();
        StatusLine.Clear();
        return await AnsiConsole.Progress().AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RecentRateColumn(rate, clock, gate))
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask($"migrate pid {request.Pid} {Markup.Escape(request.From)} -> {Markup.Escape(request.To)}", maxValue: 1);
                return await Run(contact, message, p =>
                {
                    lock (gate)
                    {
                        rate.Add(clock.Elapsed, p.BytesSent);
                        task.Description = $"{Markup.Escape(p.Step)} pid {request.Pid} {Markup.Escape(request.From)} -> {Markup.Escape(request.To)}";
                        task.MaxValue = Math.Max(1, p.BytesTotal);
                        task.Value = p.BytesSent;
                    }
                }, live);
            });
    }

    private static TimeSpan RateWindow() =>
        Actors.EngineConfig.Load().GetTimeSpan("gpuckpt.cli.rate-window", TimeSpan.FromSeconds(3), allowInfinite: false);

    /// <summary>The bytes per second of the last few seconds of progress, so that a stall shows as one.</summary>
    private sealed class RecentRateColumn(RecentRate rate, System.Diagnostics.Stopwatch clock, object gate) : ProgressColumn
    {
        public override Spectre.Console.Rendering.IRenderable Render(Spectre.Console.Rendering.RenderOptions options, ProgressTask task, TimeSpan deltaTime)
        {
            double perSecond;
            lock (gate) perSecond = rate.BytesPerSecond(clock.Elapsed);
            return new Markup($"{perSecond / 1e6:F0} MB/s");
        }
    }

    private static async Task<IMigrationMessage> Run(ClusterContact contact, IMigrationMessage request, Action<MigrationProgress> progress,
        Action<LiveRoundsReport>? live = null)
    {
        var done = new TaskCompletionSource<IMigrationMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        var listener = contact.System.ActorOf(Listener.Props(progress, done, live ?? (_ => { })));
        contact.System.ActorSelection($"{contact.NodeAddress}/user/{NodeActor.Name}").Tell(request, listener);
        var first = await Task.WhenAny(done.Task, Task.Delay(contact.Timeout), contact.Unreached);
        if (first == contact.Unreached && !done.Task.IsCompleted && !Listener.Started(listener))
            throw new InvalidOperationException(await contact.Unreached);
        if (first != done.Task && !Listener.Started(listener))
            throw new InvalidOperationException($"no gpuckpt node answered at {contact.NodeAddress} within {contact.Timeout.TotalSeconds:F0} s");
        return await done.Task;
    }

    internal static int Report(IMigrationMessage outcome, bool json, LiveRoundsReport? live = null)
    {
        var rounds = live?.Rounds;
        switch (outcome)
        {
            case MigrationCompleted { Summary: var s }:
                var rate = s.TransferSeconds > 0 ? s.ImageBytes / s.TransferSeconds / 1e6 : 0;
                if (json)
                    Cli.PrintJson(new
                    {
                        migration_id = s.MigrationId, pid = s.SourcePid, from = s.From, to = s.To, target_pid = s.TargetPid,
                        image_bytes = s.ImageBytes, bytes_sent = s.BytesSent, bytes_resent = s.BytesResent, link_breaks = s.LinkBreaks,
                        target_restarts = s.TargetRestarts, bytes_kept = s.BytesKept,
                        seconds = s.Seconds, transfer_seconds = s.TransferSeconds, pause_seconds = s.PauseSeconds, transfer_mb_per_s = rate,
                        gpu_map = Cli.GpuMap(s.GpuMap),
                        live_rounds = rounds?.Select((r, i) => new { round = i + 1, bytes = r.Bytes, seconds = r.Seconds, paused = i == rounds.Count - 1 }),
                    });
                else
                    Console.Out.WriteLine($"migrated pid {s.SourcePid} from {s.From} to {s.To}: pid {s.TargetPid} runs there, the source is released; " +
                                          $"{s.ImageBytes} bytes in {s.TransferSeconds:F2} s ({rate:F0} MB/s), {s.BytesResent} bytes resent, " +
                                          (s.TargetRestarts > 0 ? $"{s.TargetRestarts} target restart(s) survived ({s.BytesKept} bytes kept there), " : "") +
                                          $"source paused {s.PauseSeconds:F2} s, {s.Seconds:F2} s in all");
                if (!json && rounds is { Count: > 0 })
                    Console.Out.WriteLine($"live: {rounds.Count} rounds, " + string.Join(", ", rounds.Select((r, i) =>
                        i == rounds.Count - 1 ? $"the last (paused) {r.Bytes} bytes" : $"{r.Bytes} bytes in {r.Seconds:F2} s")));
                return Cli.ExitOk;
            case MigrationFailed f:
                return Cli.Error($"migration of pid {f.Pid} failed on node {f.Node} at {f.Step}: {f.Reason}" +
                                 (f.SourceResumed ? "; the source process runs again" : "; nothing was paused"),
                    Cli.ExitFailed, new
                    {
                        migration_id = f.MigrationId, pid = f.Pid, node = f.Node, step = f.Step, reason = f.Reason, source_resumed = f.SourceResumed,
                    });
            case ProcessMigrationFailed f:
                return Cli.Error($"migration of pid {f.Pid} failed on node {f.Node} at {f.Step}: {f.Reason}; {f.Outcome}",
                    Cli.ExitFailed, new
                    {
                        migration_id = f.MigrationId, pid = f.Pid, node = f.Node, step = f.Step, reason = f.Reason, source_resumed = f.RestoredOnSource,
                        outcome = f.Outcome,
                    });
            default:
                throw new InvalidOperationException($"unexpected reply {outcome}");
        }
    }

    /// <summary>Receives progress and the outcome; if the coordinator's node dies, says so instead of waiting forever.</summary>
    private sealed class Listener : ReceiveActor
    {
        private static readonly HashSet<IActorRef> Heard = [];
        private IActorRef? _coordinator;

        public Listener(Action<MigrationProgress> progress, TaskCompletionSource<IMigrationMessage> done, Action<LiveRoundsReport> live)
        {
            _done = done;
            Receive<LiveRoundsReport>(live);
            Receive<MigrationProgress>(p =>
            {
                lock (Heard) Heard.Add(Self);
                if (_coordinator is null && !Sender.IsNobody())
                {
                    _coordinator = Sender;
                    Context.Watch(_coordinator);
                }
                progress(p);
            });
            Receive<MigrationCompleted>(c => Done(c));
            Receive<MigrationFailed>(f => Done(f));
            Receive<ProcessMigrationFailed>(f => Done(f));
            // The coordinator stops right after its answer: only a stop without one is a failure.
            Receive<Akka.Actor.Terminated>(t => done.TrySetException(new InvalidOperationException(
                $"the migration's coordinator ({t.ActorRef.Path.Address}) stopped before it finished; its node continues it when its engine restarts " +
                "(`gpuckpt cluster status` shows where the process runs)")));
        }

        private void Done(IMigrationMessage outcome)
        {
            if (_coordinator is not null) Context.Unwatch(_coordinator);
            _done.TrySetResult(outcome);
        }

        private readonly TaskCompletionSource<IMigrationMessage> _done;

        public static bool Started(IActorRef listener)
        {
            lock (Heard) return Heard.Contains(listener);
        }

        public static Props Props(Action<MigrationProgress> progress, TaskCompletionSource<IMigrationMessage> done, Action<LiveRoundsReport> live) =>
            Akka.Actor.Props.Create(() => new Listener(progress, done, live));
    }
}
