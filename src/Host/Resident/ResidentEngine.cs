using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Configuration;
using Gpuckpt.Actors;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Native;
using Gpuckpt.Host.Commands;

namespace Gpuckpt.Host.Resident;

/// <summary>
/// The engine kept running for one state directory (`gpuckpt serve`): `gpuckpt checkpoint` and `gpuckpt restore` find
/// its socket there and have it run their job, so a command costs its bytes and not an engine's start. Only root and
/// the engine's own user are served (SO_PEERCRED); with the kfd driver a user other than root checkpoints only
/// processes of their own. Each job is run as the command would run it (the same checks, job lock, process lock and
/// journal), and the command's Ctrl-C or SIGTERM reaches it. A command that goes away before its answer stops its job
/// as a signal would: a checkpoint unpauses its process, a restore rolls back what it built. When its last running job
/// has answered and no other has come for <see cref="IdleBeforeGiveBack"/>, the engine gives back the memory that job's
/// garbage held (a job of 100,000 BOs leaves hundreds of MiB), so an idle engine holds what it needs and not its largest
/// job's peak, while a command that follows another (a restore after its checkpoint) finds that memory still mapped
/// instead of faulting it in page by page again. Disposing stops taking commands,
/// interrupts the jobs still running and waits for their answers.
/// </summary>
public sealed class ResidentEngine : IAsyncDisposable
{
    public const string SocketName = "engine.sock";

    private readonly EngineHost _engine;
    private readonly IGpuDriver _gpu;
    private readonly string _driver, _journal, _stateDir;
    private readonly Config _config;
    private readonly PublishedSocket _socket;
    private readonly uint _uid = UnixSockets.GetEuid();
    private readonly Action<string> _log;
    private readonly List<(Task Served, ClientSignals Signals)> _serving = [];
    private readonly Task _accepting;
    private readonly CancellationTokenSource _closing = new();
    private bool _stopping;
    private int _running;
    private readonly Timer _giveBack;

    private ResidentEngine(EngineHost engine, IGpuDriver gpu, string driver, string journal, string stateDir, Config config, Action<string> log)
    {
        _engine = engine;
        _gpu = gpu;
        _driver = ResidentRequest.DriverKey(driver);
        _journal = ResidentRequest.JournalKey(journal);
        _stateDir = stateDir;
        _config = config;
        _log = log;
        _socket = PublishedSocket.Listen(SocketIn(stateDir), "resident engine", "stop that `gpuckpt serve`, or choose another --state-dir");
        _giveBack = new Timer(_ =>
        {
            if (Volatile.Read(ref _running) == 0) GiveBackMemory();
        });
        _accepting = Task.Run(AcceptAsync);
    }

    /// <summary>Where a resident engine of <paramref name="stateDir"/> listens.</summary>
    public static string SocketIn(string stateDir) => Path.Combine(stateDir, SocketName);

    public string SocketPath => _socket.Path;

    /// <param name="log">one line per command refused or failed on the way (not the answers, which go to the commands)</param>
    public static ResidentEngine Start(EngineHost engine, IGpuDriver gpu, string driver, string journal, string stateDir, Config config, Action<string> log) =>
        new(engine, gpu, driver, journal, stateDir, config, log);

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket connection;
            try
            {
                connection = await _socket.Listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }
            var signals = new ClientSignals();
            lock (_serving)
            {
                if (_stopping)
                {
                    connection.Dispose();
                    return;
                }
                _serving.RemoveAll(s => s.Served.IsCompleted);
                _serving.Add((Task.Run(() => ServeAsync(connection, signals)), signals));
            }
        }
    }

    private async Task ServeAsync(Socket connection, ClientSignals signals)
    {
        await using var stream = new NetworkStream(connection, ownsSocket: true);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        await using var writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        try
        {
            if (UnixSockets.PeerCredentials((int)connection.Handle, out var peer) != 0)
                throw new IOException($"SO_PEERCRED failed: {Errno.Name(UnixSockets.LastErrno)}");
            if (peer.Uid != 0 && peer.Uid != _uid)
            {
                var refusal = $"the resident engine at {SocketPath} refused pid {peer.Pid} running as uid {peer.Uid}: only root or uid {_uid} may use it";
                _log(refusal);
                await writer.WriteLineAsync(new JsonObject { ["refused"] = refusal }.ToJsonString()).ConfigureAwait(false);
                return;
            }
            // A command that says nothing does not hold the engine's stop.
            if (await reader.ReadLineAsync(_closing.Token).ConfigureAwait(false) is not { } line) return;
            var request = ResidentRequest.FromJson(line);
            if (request.Driver != _driver || request.Journal != _journal || request.Version != ResidentRequest.ThisVersion)
            {
                await writer.WriteLineAsync(new JsonObject
                {
                    ["declined"] = $"this engine is gpuckpt {ResidentRequest.ThisVersion} serving {_driver} with the {_journal} journal",
                }.ToJsonString()).ConfigureAwait(false);
                return;
            }
            _ = WatchAsync(reader, signals);
            CommandOutcome outcome;
            Interlocked.Increment(ref _running);
            _giveBack.Change(Timeout.Infinite, Timeout.Infinite);
            try
            {
                try
                {
                    outcome = request.Op switch
                    {
                        ResidentRequest.Checkpoint => await CheckpointAsync(request.Arguments, peer.Uid, signals, Started).ConfigureAwait(false),
                        ResidentRequest.Restore => await RestoreAsync(request.Arguments, signals, Started).ConfigureAwait(false),
                        _ => CommandOutcome.Failure($"the resident engine runs checkpoint and restore, not {request.Op}", Cli.ExitBadInput),
                    };
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    outcome = Cli.FailureOf(e);
                }
                await writer.WriteLineAsync(new JsonObject { ["outcome"] = outcome.ToJson() }.ToJsonString()).ConfigureAwait(false);
            }
            finally
            {
                // After the answer, so that no command waits for it, and only once the engine has stayed idle.
                if (Interlocked.Decrement(ref _running) == 0) _giveBack.Change(IdleBeforeGiveBack, Timeout.InfiniteTimeSpan);
            }

            // The job's id, told before it runs: should this engine die, the command names what continues or ends it.
            void Started(string jobId) => writer.WriteLine(new JsonObject { ["job"] = jobId }.ToJsonString());
        }
        catch (OperationCanceledException)
        {
            // Stopped before the command asked for anything.
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidDataException)
        {
            _log($"a command on {SocketPath}: {e.Message}");
        }
    }

    /// <summary>
    /// Once no job runs, what the jobs left on the heap is garbage: when the heap holds more than
    /// <see cref="KeptHeap"/>, a full, compacting collection returns its free pages to the system. A job of large BOs
    /// keeps its bytes off the heap and leaves little; one of 100,000 BOs leaves hundreds of MiB.
    /// </summary>
    private static void GiveBackMemory()
    {
        if (GC.GetGCMemoryInfo().TotalCommittedBytes > KeptHeap)
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    /// <summary>How long an engine with no job keeps the memory its last job left before it gives it back.</summary>
    private static readonly TimeSpan IdleBeforeGiveBack = TimeSpan.FromSeconds(10);

    /// <summary>The heap an idle engine keeps without a collection of its own.</summary>
    private const long KeptHeap = 128L << 20;

    /// <summary>Reads the client's signals until it closes its end; closing it before the answer is <see cref="ClientSignals.Gone"/>.</summary>
    private static async Task WatchAsync(StreamReader reader, ClientSignals signals)
    {
        try
        {
            while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
                if (JsonNode.Parse(line)?["interrupt"]?.GetValue<string>() is { } signal && signal is "SIGINT" or "SIGTERM")
                    signals.Raise(signal);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or System.Text.Json.JsonException or InvalidOperationException)
        {
            // A broken connection is a client gone.
        }
        signals.Raise(ClientSignals.Gone);
    }

    private async Task<CommandOutcome> CheckpointAsync(JsonObject arguments, uint peerUid, ClientSignals signals, Action<string> started)
    {
        var pid = arguments["pid"]!.GetValue<uint>();
        var imagesDir = Path.GetFullPath(arguments["images"]!.GetValue<string>());
        var given = arguments["job"]?.GetValue<string>();
        if (Engine.Images.ImageFiles.UnwritableDirectory(imagesDir) is { } unwritable) throw new UsageException(unwritable);
        if (_driver == "kfd" && peerUid != 0) RefuseOthers(pid, peerUid);
        // A missing or unreachable target is refused before a job, an image or a pause exists.
        using (_gpu.OpenKfd(pid)) { }
        await JobsCommand.RefuseFinished(_config, given).ConfigureAwait(false);
        var request = new CheckpointRequest(pid, imagesDir, arguments["leave_running"]?.GetValue<bool>() ?? false,
            given ?? JobsActor.NewId(JobsActor.CheckpointPrefix), Parent: arguments["parent"]?.GetValue<string>());
        using var held = JobLock.Take(_stateDir, request.JobId!, JobLock.StopItFirst(request.JobId!));
        using var claimed = Engine.Checkpoint.ProcessLock.Take(_driver, pid, request.JobId!, CheckpointCommand.HolderWait(_config));
        started(request.JobId!);
        using var relay = signals.On(signal => _engine.Jobs.Tell(new InterruptJob(request.JobId!, signal)));
        var reply = await _engine.CheckpointAsync(request, pack: arguments["compress"]?.GetValue<bool>() ?? false).ConfigureAwait(false);
        return CheckpointCommand.Outcome(reply).With("engine", "resident");
    }

    private async Task<CommandOutcome> RestoreAsync(JsonObject arguments, ClientSignals signals, Action<string> started)
    {
        var dir = Path.GetFullPath(arguments["images"]!.GetValue<string>());
        RestoreCommand.RefuseKfd(_driver);
        if (!Directory.Exists(dir)) throw new UsageException($"{dir}: no such image directory");
        var jobId = arguments["job"]?.GetValue<string>();
        await JobsCommand.RefuseFinished(_config, jobId).ConfigureAwait(false);
        jobId ??= JobsActor.NewId(JobsActor.RestorePrefix);
        using var held = JobLock.Take(_stateDir, jobId, JobLock.StopItFirst(jobId));
        started(jobId);
        using var relay = signals.On(signal => _engine.Jobs.Tell(new InterruptJob(jobId, signal)));
        var reply = await _engine.RestoreAsync(new RestoreRequest(dir, jobId)).ConfigureAwait(false);
        if (reply is RestoreFailed failed && signals.Signal is { } signal && failed.Reason.Contains(RestoreCoordinator.Interrupted(signal), StringComparison.Ordinal))
            return CommandOutcome.Failure($"restore job {jobId} interrupted by {signal}: what it had built was removed and nothing was resumed " +
                                          $"({failed.Reason}); next: run the restore again",
                signal == "SIGTERM" ? Cli.ExitTerminated : Cli.ExitInterrupted, new { job_id = jobId, images = dir, signal, resumable = false });
        return RestoreCommand.Outcome(reply).With("engine", "resident");
    }

    /// <summary>A user other than root checkpoints only their own processes, as ptrace would let them.</summary>
    private static void RefuseOthers(uint pid, uint peerUid)
    {
        var status = $"/proc/{pid}/status";
        string? uidLine;
        try
        {
            uidLine = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"pid {pid}: no such process ({e.Message})");
        }
        var fields = uidLine?.Split('\t', StringSplitOptions.RemoveEmptyEntries);
        if (fields is not { Length: > 1 } || !uint.TryParse(fields[1], out var owner))
            throw new InvalidDataException($"{status}: no real uid on its Uid: line");
        if (owner != peerUid) throw new UsageException($"pid {pid} runs as uid {owner}: uid {peerUid} may checkpoint only its own processes");
    }

    public async ValueTask DisposeAsync()
    {
        List<(Task Served, ClientSignals Signals)> serving;
        lock (_serving)
        {
            _stopping = true;
            serving = [.. _serving];
        }
        _socket.Dispose();
        await _closing.CancelAsync().ConfigureAwait(false);
        // A job still running ends as its command's Ctrl-C would end it, and its command is told.
        foreach (var (_, signals) in serving) signals.Raise("SIGTERM");
        await Task.WhenAll(serving.Select(s => s.Served)).ConfigureAwait(false);
        await _accepting.ConfigureAwait(false);
        await _giveBack.DisposeAsync().ConfigureAwait(false);
        _closing.Dispose();
    }
}
