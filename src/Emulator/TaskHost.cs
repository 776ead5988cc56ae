using System.Diagnostics;

namespace Gpuckpt.Emulator;

/// <summary>
/// A running taskhost (taskhost.c): starts the processes a spec dumps and restores and reaps them, so a dumped task's
/// pid is free again when criu restore wants it and a restored task is its child. Ending it kills what it started.
/// </summary>
public sealed class TaskHost : IDisposable
{
    private readonly TextWriter _commands;
    private readonly TextReader _answers;
    private readonly TimeSpan _timeout;
    private readonly Action _close;

    public TaskHost(TextWriter commands, TextReader answers, TimeSpan timeout, Action close)
    {
        _commands = commands;
        _answers = answers;
        _timeout = timeout;
        _close = close;
        var ready = Answer("ready");
        Pid = int.Parse(ready.Split(' ')[1]);
    }

    /// <summary>A taskhost of this process's own, outside any emulated kernel.</summary>
    public static TaskHost Start(TimeSpan timeout)
    {
        var start = new ProcessStartInfo(EmulatorPrograms.TaskHost) { RedirectStandardInput = true, RedirectStandardOutput = true };
        var process = Process.Start(start) ?? throw new InvalidOperationException("taskhost did not start");
        return new TaskHost(process.StandardInput, process.StandardOutput, timeout, () =>
        {
            process.StandardInput.Close();
            if (!process.WaitForExit(timeout)) process.Kill();
            process.Dispose();
        });
    }

    public int Pid { get; }

    /// <summary>Starts <paramref name="argv"/> in a session of its own, its output appended to <paramref name="output"/>.</summary>
    public int Spawn(string output, params string[] argv) => int.Parse(Ask("spawn", [output, .. argv], "spawned").Split(' ')[1]);

    /// <summary>Runs <paramref name="argv"/> to its end; its exit status (128 + signal when killed).</summary>
    public int Run(string output, params string[] argv) => Exited(Ask("run", [output, .. argv], "exited"));

    /// <summary>Waits for child <paramref name="pid"/> to end (a dumped task) and reaps it; its exit status.</summary>
    public int Wait(int pid) => Exited(Ask("wait", [$"{pid}"], "exited"));

    public int Kill(int pid) => Exited(Ask("kill", [$"{pid}"], "exited"));

    private static int Exited(string answer) => int.Parse(answer.Split(' ')[2]);

    private string Ask(string command, IReadOnlyList<string> args, string answer)
    {
        if (args.Any(a => a.Contains('\t') || a.Contains('\n'))) throw new ArgumentException($"an argument of {command} holds a tab or a newline");
        _commands.WriteLine(string.Join('\t', [command, .. args]));
        _commands.Flush();
        return Answer(answer);
    }

    private string Answer(string expected)
    {
        var read = _answers.ReadLineAsync();
        if (!read.Wait(_timeout)) throw new TimeoutException($"taskhost gave no '{expected}' answer in {_timeout}");
        var line = read.Result ?? throw new InvalidOperationException($"taskhost ended before its '{expected}' answer");
        return line.StartsWith(expected + " ", StringComparison.Ordinal) ? line : throw new InvalidOperationException($"taskhost: {line}");
    }

    public void Dispose() => _close();
}
