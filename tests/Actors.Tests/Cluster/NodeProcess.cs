using System.Text.Json;
using Gpuckpt.Tests.Support;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>`gpuckpt node` as its own OS process: started, waited for until it reports itself up, stopped or killed.</summary>
internal sealed class NodeProcess : TestNode
{
    private readonly GpuckptProcess _process;
    private JsonElement? _up;

    private NodeProcess(GpuckptProcess process, string name) : base(name) => _process = process;

    public int ProcessId => _process.ProcessId;
    public override bool HasExited => _process.HasExited;
    public override string Output => _process.Output;

    /// <summary>The port from its "up" line (it bound port 0 or the one it was given).</summary>
    public override int Port => int.Parse(Up.GetProperty("address").GetString()!.Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Not reported by a node process (the cluster's processes never sit behind a data proxy).</summary>
    public override int? DataPort => null;

    private JsonElement Up => _up ?? throw new InvalidOperationException($"node {Name} is not up yet");

    public static NodeProcess Start(string name, IEnumerable<string> args, IReadOnlyDictionary<string, string> env) =>
        new(GpuckptProcess.Start(["node", .. args, "--json"], env), name);

    /// <summary>Waits for the node's "up" line (it joined the cluster).</summary>
    public override async Task WaitUp(TimeSpan timeout)
    {
        var line = await _process.WaitForLineAsync(l => l.StartsWith('{') && l.Contains("\"state\":\"up\"", StringComparison.Ordinal), timeout);
        _up = JsonDocument.Parse(line).RootElement.Clone();
    }

    /// <summary>SIGKILL: the engine dies at once, as in an OOM kill.</summary>
    public async Task Kill()
    {
        _process.Signal(GpuckptProcess.SigKill);
        await _process.WaitForExitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Waits for the process to end by itself (a crash point killed it); its result.</summary>
    public Task<GpuckptProcess.Result> Exited(TimeSpan timeout) => _process.WaitForExitAsync(timeout);

    /// <summary>SIGTERM now; the task completes when the node has left and exited (killed past <paramref name="timeout"/>).</summary>
    public override Task<GpuckptProcess.Result> Leave(TimeSpan timeout)
    {
        _process.Signal(GpuckptProcess.SigTerm);
        return _process.WaitForExitAsync(timeout);
    }

    public override ValueTask DisposeAsync()
    {
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
