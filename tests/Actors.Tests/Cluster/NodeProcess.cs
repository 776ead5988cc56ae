using System.Text.Json;
using Gpuckpt.Tests.Support;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>`gpuckpt node` as its own OS process: started, waited for until it reports itself up, stopped or killed.</summary>
internal sealed class NodeProcess : IDisposable
{
    private readonly GpuckptProcess _process;

    private NodeProcess(GpuckptProcess process, string name)
    {
        _process = process;
        Name = name;
    }

    public string Name { get; }
    public int ProcessId => _process.ProcessId;
    public bool HasExited => _process.HasExited;
    public string Output => _process.Output;

    public static NodeProcess Start(string name, IEnumerable<string> args, IReadOnlyDictionary<string, string> env) =>
        new(GpuckptProcess.Start(["node", .. args, "--json"], env), name);

    /// <summary>Waits for the node's "up" line (it joined the cluster).</summary>
    public async Task<JsonElement> WaitUp(TimeSpan timeout)
    {
        var line = await _process.WaitForLineAsync(l => l.StartsWith('{') && l.Contains("\"state\":\"up\"", StringComparison.Ordinal), timeout);
        return JsonDocument.Parse(line).RootElement.Clone();
    }

    /// <summary>SIGKILL: the engine dies at once, as in an OOM kill.</summary>
    public void Kill()
    {
        _process.Signal(GpuckptProcess.SigKill);
        _process.WaitForExitAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
    }

    /// <summary>Waits for the process to end by itself (a crash point killed it); its result.</summary>
    public Task<GpuckptProcess.Result> Exited(TimeSpan timeout) => _process.WaitForExitAsync(timeout);

    /// <summary>SIGTERM: a graceful leave; the exit code.</summary>
    public async Task<int> Stop(TimeSpan timeout) => (await Leave(timeout)).ExitCode;

    /// <summary>SIGTERM now; the task completes when the node has left and exited (killed past <paramref name="timeout"/>).</summary>
    public Task<GpuckptProcess.Result> Leave(TimeSpan timeout)
    {
        _process.Signal(GpuckptProcess.SigTerm);
        return _process.WaitForExitAsync(timeout);
    }

    public void Dispose() => _process.Dispose();
}
