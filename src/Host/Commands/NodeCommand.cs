using System.CommandLine;
using Gpuckpt.Actors.Cluster;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;

namespace Gpuckpt.Host.Commands;

/// <summary>`gpuckpt node`: a cluster member owning one driver and its jobs, until SIGTERM or SIGINT (a graceful leave).</summary>
public static class NodeCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "the node's HOCON file", DefaultValueFactory = _ => "node.conf" };
        var driver = new Option<string?>("--driver") { Description = "sim:SOCKET or kfd (default: an embedded simulated driver)" };
        var json = Cli.JsonOption();
        var emulated = new Option<bool>("--emulated-kernel")
        {
            Description = "host the emulated KFD kernel over the node's embedded simulator: GPU stand-in processes run under it and migrate with migrate --criu (root)",
        };
        var standIn = new Option<string?>("--stand-in")
        {
            Description = "with --emulated-kernel: start a stand-in process for a new simulated one, WORKLOAD:SEED or WORKLOAD:SEED:SIZE (train:7:64M)",
        };
        var standInCounter = new Option<string?>("--stand-in-counter") { Description = "the stand-in counts on its CPU, appending each value to this file" };
        var engineOptions = new EngineOptions();
        var command = new Command("node", "run a cluster node: its driver, its jobs, migrations in and out") { config, driver, json, emulated, standIn, standInCounter };
        engineOptions.AddTo(command);
        command.SetAction((parse, _) => Cli.Guard(async () =>
        {
            if (parse.GetValue(emulated) && parse.GetValue(driver) is not null)
                throw new UsageException("--emulated-kernel runs over the node's embedded simulator: leave out --driver");
            if (parse.GetValue(standIn) is not null && !parse.GetValue(emulated)) throw new UsageException("--stand-in goes with --emulated-kernel");
            if (parse.GetValue(standInCounter) is not null && parse.GetValue(standIn) is null) throw new UsageException("--stand-in-counter goes with --stand-in");
            var standInWorkload = parse.GetValue(standIn) is { } text ? ParseStandIn(text) : ((string, ulong, ulong?)?)null;
            var nodeConfig = NodeConfig.Load(parse.GetValue(config)!);
            var engineConfig = engineOptions.Load(parse);
            var stateDir = engineOptions.StateDirOf(parse);
            // A node's journal, keys and certificates live here: nobody else may be able to replace them.
            Engine.Trust.PrivateDirectory.RefuseWritableByOthers(stateDir, "node's state directory");
            using var owner = NodeLock.Take(stateDir);
            var settings = NodeSettings.From(nodeConfig);
            var portCheck = nodeConfig.GetTimeSpan("gpuckpt.node.port-check-timeout", TimeSpan.FromSeconds(1));
            RefuseTaken(settings.Hostname, settings.Port, "remoting port", "GPUCKPT_NODE_PORT", portCheck);
            RefuseTaken(settings.Hostname, nodeConfig.GetInt("gpuckpt.migration.data-port", 0), "data port", "GPUCKPT_NODE_DATA_PORT", portCheck);
            using var embedded = parse.GetValue(driver) is null
                ? SimulatorServer.Start(new SimulatorOptions(Path.Combine(stateDir, $"sim-{settings.Port}.sock"))
                {
                    Gpus = settings.SimulatorGpus,
                    IdSeed = settings.SimulatorIdSeed,
                    ResidentVram = settings.SimulatorResidentVram,
                })
                : null;
            using var gpu = Drivers.Open(parse.GetValue(driver) ?? $"sim:{embedded!.SocketPath}");
            var merged = nodeConfig.WithFallback(engineConfig);
            using var kernel = parse.GetValue(emulated)
                ? new NodeKernel(embedded!, SelfCommand(), merged.GetTimeSpan("gpuckpt.migration.restore-timeout", TimeSpan.FromMinutes(10)), parse.GetValue(json))
                : null;
            (uint Pid, uint SimPid)? standing = null;
            if (standInWorkload is var (workload, seed, size))
            {
                using var sim = SimulatorClient.Connect(embedded!.SocketPath);
                var simPid = sim.Spawn(WorkloadRequest.Named(workload, seed, sizeBytes: size));
                var counter = parse.GetValue(standInCounter) is { } file ? Path.GetFullPath(file) : null;
                standing = (kernel!.StartStandIn(simPid, counter), simPid);
            }
            // The node's host stops on SIGTERM or SIGINT (Microsoft.Extensions.Hosting's console lifetime): a graceful leave.
            await using var node = await ClusterNode.StartAsync(gpu, merged, SelfCommand(), kernel, signals: true);
            var up = await Task.WhenAny(node.Up, node.Terminated, node.Stopping, node.Refused);
            if (up != node.Up)
            {
                var refused = node.RefusedReason();
                await node.LeaveAsync();
                if (refused is not null)
                    throw new InvalidOperationException($"node {settings.Name} was not let in: {refused}; its certificate, " +
                        $"{Path.Combine(ClusterTls.DirOf(nodeConfig.WithFallback(engineConfig)), settings.Name)}.crt, must be issued by the cluster's CA and valid now, and so must the seed's");
                throw new InvalidOperationException($"node {settings.Name} stopped before it joined the cluster");
            }
            // The node is also its state directory's resident engine: checkpoint and restore on this machine run their jobs in it.
            await using var resident = ServeLocally(node.Engine, gpu, parse.GetValue(driver) ?? $"sim:{embedded!.SocketPath}",
                parse.GetValue(engineOptions.Journal)!, stateDir, merged);
            var gpus = gpu.Topology();
            // Up is said once the hashes' optimised code is in place, as `gpuckpt serve` says it serves: a node's first
            // migration then hashes its bytes as fast as the next one.
            var warm = HashWarmUp.Run(HashWarmUp.Quiet, HashWarmUp.Limit);
            if (parse.GetValue(json))
                Cli.PrintJson(new
                {
                    node = settings.Name, address = Cli.HostPort(node.Address.ToString()), driver = gpu.Name, gpus = gpus.Count, engine_socket = resident?.SocketPath,
                    warm_up_seconds = Math.Round(warm.Took.TotalSeconds, 2), state = "up",
                });
            else
                Console.Out.WriteLine($"node {settings.Name} up at {node.Address} with {gpus.Count} GPUs on {gpu.Name}" +
                                      (resident is null ? "" : $"; checkpoint and restore run in it through {resident.SocketPath}"));
            if (standing is var (standInPid, standInSim))
            {
                if (parse.GetValue(json)) Cli.PrintJson(new { stand_in = standInPid, sim_pid = standInSim, simulator = embedded!.SocketPath });
                else Console.Out.WriteLine($"stand-in process {standInPid} holds /dev/kfd and its render nodes for simulated pid {standInSim} ({embedded!.SocketPath})");
            }
            Console.Out.Flush();

            await Task.WhenAny(node.Terminated, node.Stopping);
            if (!node.Terminated.IsCompleted)
            {
                if (!parse.GetValue(json)) Console.Out.WriteLine($"node {settings.Name} leaving the cluster");
                await node.LeaveAsync();
            }
            await node.Terminated;
            if (node.Downed)
            {
                return Cli.Error($"node {settings.Name} was downed and removed from the cluster", Cli.ExitFailed, new { node = settings.Name });
            }
            if (!parse.GetValue(json)) Console.Out.WriteLine($"node {settings.Name} left the cluster");
            return Cli.ExitOk;
        }));
        return command;
    }

    /// <summary>
    /// The node's resident engine, or null (said on stderr) where its socket cannot be had: a `gpuckpt serve` there
    /// already, or a state directory whose path is too long for a socket. The node is a cluster member either way.
    /// </summary>
    private static Resident.ResidentEngine? ServeLocally(Actors.EngineHost engine, Engine.Devices.IGpuDriver gpu, string driver, string journal, string stateDir,
        Akka.Configuration.Config config)
    {
        try
        {
            return Resident.ResidentEngine.Start(engine, gpu, driver, journal, stateDir, config, line => Console.Error.WriteLine($"gpuckpt: {line}"));
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"gpuckpt: checkpoint and restore will not run in this node: {e.Message}");
            return null;
        }
    }

    /// <summary>WORKLOAD:SEED or WORKLOAD:SEED:SIZE.</summary>
    private static (string Workload, ulong Seed, ulong? Size) ParseStandIn(string text)
    {
        var parts = text.Split(':');
        ulong size = 0;
        if (parts.Length is not (2 or 3) || parts[0].Length == 0 || !ulong.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out var seed)
            || (parts.Length == 3 && !ByteSizeOption.TryParse(parts[2], out size)))
            throw new UsageException($"--stand-in {text}: WORKLOAD:SEED or WORKLOAD:SEED:SIZE, as in train:7:64M");
        return (parts[0], seed, parts.Length == 3 ? size : null);
    }

    /// <summary>This gpuckpt as a command: its apphost, or dotnet with gpuckpt.dll.</summary>
    private static string[] SelfCommand()
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this gpuckpt is unknown");
        return Path.GetFileNameWithoutExtension(self) == "dotnet" ? [self, Path.Combine(AppContext.BaseDirectory, "gpuckpt.dll")] : [self];
    }

    /// <summary>A fixed port that something already accepts connections on is another process's: refused, naming it.</summary>
    private static void RefuseTaken(string host, int port, string what, string variable, TimeSpan timeout)
    {
        if (port > 0 && TcpProbe.Connect(host, port, timeout) is null)
            throw new InvalidOperationException($"port {port} on {host} ({what}) is in use: another process listens there (another gpuckpt node?); " +
                                                $"give this node another one ({variable})");
    }
}
