using CliWrap;
using System.Runtime.InteropServices;
using System.Text;

namespace Gpuckpt.Tests.Support;

/// <summary>
/// The gpuckpt executable as its own OS process (run through CliWrap), the way a user (or a crash) meets it: the one
/// way tests start it. Output is read line by line from both streams at once; a test waits for a line it expects
/// (<see cref="WaitForLineAsync"/>) or for the exit (<see cref="WaitForExitAsync"/>), each bounded by a timeout that
/// kills the process and says so.
/// </summary>
public sealed partial class GpuckptProcess : IDisposable
{
    /// <summary>The exit code and every line printed (each ending in a newline).</summary>
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        /// <summary>128 + SIGKILL: how .NET reports a child that was killed.</summary>
        public bool Killed => ExitCode == 137;
        public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
    }

    public const int SigTerm = 15, SigKill = 9;

    /// <summary>Environment variables a test run may carry that must not leak into a child unless a test sets them.</summary>
    private static readonly string[] Scrubbed = ["GPUCKPT_CRASH_AT"];

    private readonly StringBuilder _stdout = new(), _stderr = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Found)> _waiters = [];
    private readonly CancellationTokenSource _kill = new();
    private CommandTask<CommandResult> _run = null!;
    private Task<int> _exit = null!;
    private bool _drained;

    private GpuckptProcess(IReadOnlyList<string> args) => Arguments = args;

    public IReadOnlyList<string> Arguments { get; }
    public int ProcessId => _run.ProcessId;

    /// <summary>What it printed so far on stdout and stderr.</summary>
    public string Output
    {
        get { lock (_waiters) return _stdout.ToString() + _stderr; }
    }

    /// <summary>The load tool (load/), started through this helper like gpuckpt itself.</summary>
    public const string LoadTool = "gpuckpt-load.dll";

    /// <param name="uid">Run as this user (and its group of the same number, no other groups) instead of the test's.</param>
    public static GpuckptProcess Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, string program = "gpuckpt.dll",
        string? workingDirectory = null, uint? uid = null)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, program);
        if (!File.Exists(dll)) throw new FileNotFoundException($"{program} not found beside the running assemblies in {AppContext.BaseDirectory}", dll);
        var list = args.ToList();
        var process = new GpuckptProcess(list);
        // Both streams are read at once, line by line, as they come: a child never blocks on a full pipe.
        // Ctrl-C as a terminal sends it: a test run started in the background of a shell ignores SIGINT, and a child
        // would inherit that (env execs dotnet, so the pid is gpuckpt's).
        string[] asUser = uid is { } u ? ["setpriv", $"--reuid={u}", $"--regid={u}", "--clear-groups", "env"] : ["env"];
        var command = CliWrap.Cli.Wrap(asUser[0])
            .WithArguments([.. asUser[1..], "--default-signal=INT", "dotnet", dll, .. list])
            .WithWorkingDirectory(workingDirectory ?? Environment.CurrentDirectory)
            .WithEnvironmentVariables(env =>
            {
                foreach (var name in Scrubbed) env.Set(name, null);
                foreach (var (k, v) in environment ?? new Dictionary<string, string>()) env.Set(k, v);
            })
            .WithValidation(CommandResultValidation.None)
            .WithStandardOutputPipe(PipeTarget.ToDelegate(line => process.Printed(line, process._stdout)))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(line => process.Printed(line, process._stderr)));
        process._run = command.ExecuteAsync(process._kill.Token);
        process._exit = ExitCode(process._run);
        process._exit.ContinueWith(_ => process.Drained(), TaskScheduler.Default);
        return process;
    }

    /// <summary>The exit code once the process has exited and both streams are drained; 137 when the test killed it.</summary>
    private static async Task<int> ExitCode(CommandTask<CommandResult> run)
    {
        try
        {
            return (await run.ConfigureAwait(false)).ExitCode;
        }
        catch (OperationCanceledException)
        {
            return 128 + SigKill;
        }
    }

    /// <summary>Runs gpuckpt to its exit; a run longer than <paramref name="timeout"/> is killed and reported.</summary>
    public static async Task<Result> RunAsync(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, TimeSpan? timeout = null,
        string program = "gpuckpt.dll", string? workingDirectory = null, uint? uid = null)
    {
        using var process = Start(args, environment, program, workingDirectory, uid);
        return await process.WaitForExitAsync(timeout ?? TimeSpan.FromMinutes(2)).ConfigureAwait(false);
    }

    /// <summary>Runs gpuckpt to its exit (at most two minutes).</summary>
    public static Result Run(params string[] args) => RunAsync(args).GetAwaiter().GetResult();

    /// <summary>
    /// Waits until a line of output matches, the process exits without printing one (an exception with its output),
    /// or the timeout passes (the process is killed). The line itself is returned.
    /// </summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiters)
        {
            var seen = (_stdout.ToString() + _stderr).Split('\n').Select(l => l.TrimEnd('\r')).FirstOrDefault(match);
            if (seen is not null) return seen;
            if (_drained) throw Ended("exited before printing the expected line");
            _waiters.Add((match, found));
        }
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            return await found.Task.WaitAsync(cancel.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"gpuckpt {string.Join(' ', Arguments)} printed no expected line in {timeout}: {Output.Trim()}");
        }
    }

    /// <summary>Waits for the exit and for every line of its output; past the timeout the process is killed and reported.</summary>
    public async Task<Result> WaitForExitAsync(TimeSpan timeout)
    {
        int code;
        try
        {
            code = await _exit.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Kill();
            throw new TimeoutException($"gpuckpt {string.Join(' ', Arguments)} did not finish in {timeout}: {Output.Trim()}");
        }
        lock (_waiters) return new Result(code, _stdout.ToString(), _stderr.ToString());
    }

    public bool HasExited => _exit.IsCompleted;

    /// <summary>Sends a signal (SIGTERM lets gpuckpt clean up; SIGKILL is a crash).</summary>
    public void Signal(int signal)
    {
        if (HasExited) return;
        if (KillSyscall(ProcessId, signal) != 0 && !HasExited)
            throw new InvalidOperationException($"kill({ProcessId}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>SIGTERM, then SIGKILL of the whole tree if it has not exited within <paramref name="grace"/>.</summary>
    public void Stop(TimeSpan grace)
    {
        Signal(SigTerm);
        if (!_exit.Wait(grace)) Kill();
        _exit.Wait();
    }

    /// <summary>SIGKILL of the whole tree (CliWrap's forceful cancellation).</summary>
    public void Kill() => _kill.Cancel();

    public void Dispose()
    {
        Kill();
        _exit.GetAwaiter().GetResult();
        _kill.Dispose();
    }

    private void Printed(string line, StringBuilder into)
    {
        List<TaskCompletionSource<string>> hits;
        lock (_waiters)
        {
            into.AppendLine(line);
            hits = _waiters.Where(w => w.Match(line)).Select(w => w.Found).ToList();
            _waiters.RemoveAll(w => hits.Contains(w.Found));
        }
        foreach (var hit in hits) hit.TrySetResult(line);
    }

    private void Drained()
    {
        List<TaskCompletionSource<string>> left;
        lock (_waiters)
        {
            _drained = true;
            left = _waiters.Select(w => w.Found).ToList();
            _waiters.Clear();
        }
        foreach (var w in left) w.TrySetException(Ended("exited before printing the expected line"));
    }

    private InvalidOperationException Ended(string what) =>
        new($"gpuckpt {string.Join(' ', Arguments)} {what} (exit {(_exit.IsCompleted ? _exit.Result : "unknown")}): {Output.Trim()}");

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillSyscall(int pid, int signal);
}
