using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>`gpuckpt node` as its own OS process: started, waited for until it reports itself up, stopped or killed.</summary>
internal sealed partial class NodeProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<JsonElement> _up = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private NodeProcess(Process process, string name)
    {
        _process = process;
        Name = name;
    }

    public string Name { get; }
    public int ProcessId => _process.Id;
    public bool HasExited => _process.HasExited;

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public static NodeProcess Start(string name, IEnumerable<string> args, IReadOnlyDictionary<string, string> env)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "gpuckpt.dll"));
        info.ArgumentList.Add("node");
        foreach (var a in args) info.ArgumentList.Add(a);
        info.ArgumentList.Add("--json");
        info.Environment.Remove("GPUCKPT_CRASH_AT");
        foreach (var (k, v) in env) info.Environment[k] = v;
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start gpuckpt node");
        var node = new NodeProcess(process, name);
        process.OutputDataReceived += (_, e) => node.Line(e.Data, stdout: true);
        process.ErrorDataReceived += (_, e) => node.Line(e.Data, stdout: false);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => node._up.TrySetException(new InvalidOperationException($"node {name} exited before it was up: {node.Output}"));
        return node;
    }

    private void Line(string? line, bool stdout)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
        if (stdout && line.StartsWith('{') && line.Contains("\"state\":\"up\"", StringComparison.Ordinal))
            _up.TrySetResult(JsonDocument.Parse(line).RootElement.Clone());
    }

    /// <summary>Waits for the node's "up" line (it joined the cluster).</summary>
    public async Task WaitUp(TimeSpan timeout)
    {
        try
        {
            await _up.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"node {Name} not up after {timeout}: {Output}");
        }
    }

    /// <summary>SIGKILL: the engine dies at once, as in an OOM kill.</summary>
    public void Kill()
    {
        if (_process.HasExited) return;
        _process.Kill();
        _process.WaitForExit();
    }

    /// <summary>SIGTERM: a graceful leave; the exit code.</summary>
    public async Task<int> Stop(TimeSpan timeout)
    {
        if (!_process.HasExited && SendSignal(_process.Id, 15) != 0 && !_process.HasExited)
            throw new InvalidOperationException($"kill({_process.Id}, SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"node {Name} did not leave within {timeout}: {Output}");
        }
        return _process.ExitCode;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
