using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Gpuckpt.Engine.Native;

namespace Gpuckpt.Host;

/// <summary>
/// A cluster on this machine: one `gpuckpt node` OS process per node on loopback, each on the port it bound, seeded with the first; each
/// with its own driver and state directory. Used by `gpuckpt demo --cluster` and the load driver. Disposing leaves
/// gracefully (SIGTERM) and kills a node that has not left within the grace.
/// </summary>
public sealed class LocalNodes : IAsyncDisposable
{
    private static readonly TimeSpan UpTimeout = TimeSpan.FromMinutes(2), LeaveGrace = TimeSpan.FromSeconds(30);
    private readonly Dictionary<string, (Process Process, int Port, StringBuilder Errors)> _nodes = [];
    private readonly string? _executable;

    private LocalNodes(string? executable, string clusterDir)
    {
        _executable = executable;
        ClusterDir = clusterDir;
    }

    /// <summary>The cluster directory: the CA that every node and the CLI take their certificates from.</summary>
    public string ClusterDir { get; }

    /// <summary>The names of the nodes, in the order they were started.</summary>
    public IReadOnlyList<string> Names => [.. _nodes.Keys];

    /// <summary>HOST:PORT of a node, as `migrate --node` and `cluster status --node` take it.</summary>
    public string Endpoint(string name) => $"127.0.0.1:{_nodes[name].Port}";

    /// <summary>Starts every node and returns once each has printed that it is up.</summary>
    /// <param name="nodes">each node's name, driver (`sim:SOCKET` or `kfd`) and state directory</param>
    /// <param name="clusterDir">the cluster directory (its CA is created when there is none)</param>
    /// <param name="executable">the gpuckpt to run (its apphost or gpuckpt.dll; default: the one beside this assembly)</param>
    /// <param name="config">the nodes' configuration file (default: the shipped node.conf)</param>
    public static async Task<LocalNodes> Start(IReadOnlyList<(string Name, string Driver, string StateDir)> nodes, string clusterDir,
        string? executable = null, string? config = null)
    {
        Engine.Trust.ClusterAuthority.OpenOrCreate(clusterDir);
        var cluster = new LocalNodes(executable, Path.GetFullPath(clusterDir));
        try
        {
            // Every node binds port 0 and reports the port it bound: the first forms the cluster, the others name it as their seed.
            var (name, driver, stateDir) = nodes[0];
            var first = Path.GetTempFileName();
            try
            {
                File.WriteAllText(first, (config is null ? "" : File.ReadAllText(config) + "\n") + "akka.cluster.seed-nodes = []\n");
                await cluster.StartNode(name, "", driver, stateDir, first);
            }
            finally
            {
                File.Delete(first);
            }
            await Task.WhenAll(nodes.Skip(1).Select(n => cluster.StartNode(n.Name, cluster.Endpoint(name), n.Driver, n.StateDir, config)));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private async Task StartNode(string name, string seeds, string driver, string stateDir, string? config)
    {
        var info = Info(["node", "--driver", driver, "--state-dir", stateDir, "--json", .. (config is null ? Array.Empty<string>() : ["--config", config])], _executable);
        info.Environment["GPUCKPT_NODE_NAME"] = name;
        info.Environment["GPUCKPT_NODE_PORT"] = "0";
        if (seeds.Length > 0) info.Environment["GPUCKPT_SEED_NODES"] = seeds;
        info.Environment[Actors.Cluster.ClusterTls.DirVariable] = ClusterDir;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"gpuckpt node {name} did not start");
        var errors = new StringBuilder();
        lock (_nodes) _nodes[name] = (process, 0, errors);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (errors) errors.AppendLine(e.Data);
        };
        process.BeginErrorReadLine();
        using var cancel = new CancellationTokenSource(UpTimeout);
        try
        {
            while (await process.StandardOutput.ReadLineAsync(cancel.Token) is { } line)
            {
                if (!line.StartsWith('{') || !line.Contains("\"state\":\"up\"", StringComparison.Ordinal)) continue;
                var address = JsonDocument.Parse(line).RootElement.GetProperty("address").GetString()!;
                var port = int.Parse(address[(address.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
                lock (_nodes) _nodes[name] = (process, port, errors);
                // Nothing else it prints is needed, but it must not block on a full pipe.
                _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None);
                return;
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"node {name} was not up within {UpTimeout.TotalSeconds:F0} s: {Errors(errors)}");
        }
        await process.WaitForExitAsync(CancellationToken.None);
        throw new InvalidOperationException($"node {name} exited ({process.ExitCode}) before it was up: {Errors(errors)}");
    }

    /// <summary>Runs a gpuckpt command to its end and returns what it printed on stdout; a non-zero exit is an exception with its stderr.</summary>
    /// <param name="clusterDir">the cluster directory whose `cli` certificate a command that talks to nodes presents</param>
    public static async Task<string> Run(IReadOnlyList<string> args, string? executable = null, string? clusterDir = null)
    {
        var info = Info(args, executable);
        if (clusterDir is not null) info.Environment[Actors.Cluster.ClusterTls.DirVariable] = clusterDir;
        using var process = Process.Start(info) ?? throw new InvalidOperationException("gpuckpt did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"gpuckpt {string.Join(' ', args)}: exit {process.ExitCode}: {(await stderr).Trim()}");
        return await stdout;
    }

    public async ValueTask DisposeAsync()
    {
        List<(Process Process, int Port, StringBuilder Errors)> nodes;
        lock (_nodes) nodes = [.. _nodes.Values];
        foreach (var (process, _, _) in nodes)
            if (!process.HasExited) Signal(process);
        foreach (var (process, _, _) in nodes)
        {
            using var grace = new CancellationTokenSource(LeaveGrace);
            try
            {
                await process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
            }
            process.Dispose();
        }
    }

    /// <summary>SIGTERM: the node leaves the cluster and exits.</summary>
    private static void Signal(Process process)
    {
        if (Libc.Kill(process.Id, 15) != 0 && !process.HasExited)
            throw new InvalidOperationException($"kill({process.Id}, SIGTERM) failed: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
    }

    private static string Errors(StringBuilder errors)
    {
        lock (errors) return errors.Length == 0 ? "(nothing on stderr)" : errors.ToString().Trim();
    }

    /// <summary>
    /// The gpuckpt executable given, else the one beside this assembly (its apphost, else the dotnet host with the
    /// assembly), whoever loaded it.
    /// </summary>
    private static ProcessStartInfo Info(IEnumerable<string> args, string? executable)
    {
        var assembly = executable ?? typeof(LocalNodes).Assembly.Location;
        var apphost = Path.ChangeExtension(assembly, null);
        var useApphost = File.Exists(apphost);
        var info = new ProcessStartInfo(useApphost ? apphost : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        if (!useApphost) info.ArgumentList.Add(assembly);
        foreach (var a in args) info.ArgumentList.Add(a);
        return info;
    }
}
