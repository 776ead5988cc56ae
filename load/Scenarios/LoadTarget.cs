using System.Collections.Concurrent;
using Gpuckpt.Actors;
using Gpuckpt.Simulator;
using Gpuckpt.Host;

namespace Gpuckpt.Load.Scenarios;

/// <summary>
/// What a run loads, all on this machine: an embedded simulated driver (2 GPUs) and an engine on it, and, for
/// migrations, two `gpuckpt node` processes on 127.0.0.1 with simulators of their own. Everything lives in one work
/// directory; disposing kills every process the run spawned and still holds, stops the nodes and removes the directory.
/// </summary>
public sealed class LoadTarget : IAsyncDisposable
{
    private readonly List<IDisposable> _owned = [];
    private readonly ConcurrentDictionary<(SimulatorClient Client, uint Pid), byte> _processes = new();
    private long _dirs;

    private LoadTarget(string work) => Work = work;

    public string Work { get; }
    public SimulatorClient Simulator { get; private set; } = null!;
    public EngineHost Engine { get; private set; } = null!;
    public LocalNodes? Nodes { get; private set; }
    public SimulatorClient? NodeA { get; private set; }
    public SimulatorClient? NodeB { get; private set; }
    public string? NodeADriver { get; private set; }
    public string? Gpuckpt { get; private set; }

    public static async Task<LoadTarget> Start(string workRoot, bool withNodes, string? gpuckpt)
    {
        Directory.CreateDirectory(workRoot);
        var target = new LoadTarget(Directory.CreateDirectory(Path.Combine(Path.GetFullPath(workRoot), $"gpuckpt-load-{Guid.NewGuid():N}")).FullName);
        try
        {
            var server = target.Own(SimulatorServer.Start(new SimulatorOptions(Path.Combine(target.Work, "sim.sock")) { Gpus = 2 }));
            target.Simulator = target.Own(SimulatorClient.Connect(server.SocketPath));
            target.Engine = EngineHost.Start(target.Simulator);
            if (withNodes)
            {
                var a = target.Own(SimulatorServer.Start(new SimulatorOptions(Path.Combine(target.Work, "a.sock")) { Gpus = 2, IdSeed = 0 }));
                var b = target.Own(SimulatorServer.Start(new SimulatorOptions(Path.Combine(target.Work, "b.sock")) { Gpus = 2, IdSeed = 9 }));
                target.NodeA = target.Own(SimulatorClient.Connect(a.SocketPath));
                target.NodeB = target.Own(SimulatorClient.Connect(b.SocketPath));
                target.NodeADriver = $"sim:{a.SocketPath}";
                target.Gpuckpt = gpuckpt;
                target.Nodes = await LocalNodes.Start([
                    ("a", $"sim:{a.SocketPath}", Path.Combine(target.Work, "state-a")),
                    ("b", $"sim:{b.SocketPath}", Path.Combine(target.Work, "state-b")),
                ], Path.Combine(target.Work, "cluster"), gpuckpt);
            }
            return target;
        }
        catch
        {
            await target.DisposeAsync();
            throw;
        }
    }

    /// <summary>A fresh directory name under the work directory (not created).</summary>
    public string NewDirectory(string prefix) => Path.Combine(Work, $"{prefix}-{Interlocked.Increment(ref _dirs)}");

    /// <summary>Spawns a simulated process that the run kills when the iteration is done with it, or at the end.</summary>
    public uint Spawn(SimulatorClient client, WorkloadRequest request) => Adopt(client, client.Spawn(request));

    public uint Adopt(SimulatorClient client, uint pid)
    {
        _processes[(client, pid)] = 0;
        return pid;
    }

    public void Kill(SimulatorClient client, uint pid)
    {
        if (_processes.TryRemove((client, pid), out _)) client.Kill(pid);
    }

    /// <summary>A process that ended without the run (a migration's source, released once the target runs).</summary>
    public void Forget(SimulatorClient client, uint pid) => _processes.TryRemove((client, pid), out _);

    private T Own<T>(T owned) where T : IDisposable
    {
        _owned.Add(owned);
        return owned;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (client, pid) in _processes.Keys)
            try { client.Kill(pid); } catch (Exception) { /* gone with a failed iteration */ }
        if (Nodes is not null) await Nodes.DisposeAsync();
        if (Engine is not null) await Engine.DisposeAsync();
        for (var i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        try { Directory.Delete(Work, true); } catch (DirectoryNotFoundException) { }
    }
}
