using System.CommandLine;
using System.Runtime.InteropServices;
using Gpuckpt.Actors.Cluster;
using Gpuckpt.Engine.Devices;
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
        var engineOptions = new EngineOptions();
        var command = new Command("node", "run a cluster node: its driver, its jobs, migrations in and out") { config, driver, json };
        engineOptions.AddTo(command);
        command.SetAction((parse, _) => Cli.Guard(async () =>
        {
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
                })
                : null;
            using var gpu = Drivers.Open(parse.GetValue(driver) ?? $"sim:{embedded!.SocketPath}");
            var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            void OnSignal(PosixSignalContext context)
            {
                context.Cancel = true;
                stop.TrySetResult();
            }
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

            var node = ClusterNode.Start(gpu, nodeConfig.WithFallback(engineConfig), SelfCommand());
            var up = await Task.WhenAny(node.Up, node.Terminated, stop.Task, node.Refused);
            if (up != node.Up)
            {
                var refused = node.RefusedReason();
                await node.LeaveAsync();
                if (refused is not null)
                    throw new InvalidOperationException($"node {settings.Name} was not let in: {refused}; its certificate, " +
                        $"{Path.Combine(ClusterTls.DirOf(nodeConfig.WithFallback(engineConfig)), settings.Name)}.crt, must be issued by the cluster's CA and valid now, and so must the seed's");
                throw new InvalidOperationException($"node {settings.Name} stopped before it joined the cluster");
            }
            var gpus = gpu.Topology();
            if (parse.GetValue(json))
                Cli.PrintJson(new { node = settings.Name, address = node.Address.ToString(), driver = gpu.Name, gpus = gpus.Count, state = "up" });
            else
                Console.Out.WriteLine($"node {settings.Name} up at {node.Address} with {gpus.Count} GPUs on {gpu.Name}");
            Console.Out.Flush();

            await Task.WhenAny(node.Terminated, stop.Task);
            if (stop.Task.IsCompleted)
            {
                if (!parse.GetValue(json)) Console.Out.WriteLine($"node {settings.Name} leaving the cluster");
                await node.LeaveAsync();
            }
            await node.Terminated;
            await node.Engine.DisposeAsync();
            if (node.Downed)
            {
                Console.Error.WriteLine($"gpuckpt: node {settings.Name} was downed and removed from the cluster");
                return Cli.ExitFailed;
            }
            if (!parse.GetValue(json)) Console.Out.WriteLine($"node {settings.Name} left the cluster");
            return Cli.ExitOk;
        }));
        return command;
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
