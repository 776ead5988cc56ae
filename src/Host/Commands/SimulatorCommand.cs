using System.CommandLine;
using System.Runtime.InteropServices;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Host.Commands;

/// <summary>`gpuckpt simulator`: the simulated GPU driver, serving its socket until SIGTERM or SIGINT.</summary>
public static class SimulatorCommand
{
    public static Command Create()
    {
        var socket = new Option<string>("--socket") { Description = "Unix socket path to serve", Required = true };
        var topology = new Option<string?>("--topology") { Description = "topology JSON file of the GPUs ({\"gpus\":[...]})" };
        var gpus = new Option<int>("--gpus") { Description = "number of generated GPUs (without --topology)", DefaultValueFactory = _ => 2 };
        var idSeed = new Option<uint>("--id-seed") { Description = "seed of the generated gpu ids and render minors", DefaultValueFactory = _ => 0 };
        var memoryDir = new Option<string?>("--memory-dir") { Description = "where BO memory files live (default: a fresh directory under /dev/shm)" };
        var smallBar = new Option<bool>("--small-bar") { Description = "every GPU has a small BAR (vram_public 0): VRAM is checkpointed with the copy engine" };
        var residentVram = ByteSizeOption.Create("--resident-vram",
            "VRAM of each GPU made resident at start, as a GPU's is from power-on: the first BOs take no fresh memory (at most 2G; default none)");
        var json = Cli.JsonOption();
        var command = new Command("simulator", "run the simulated GPU driver on a Unix socket") { socket, topology, gpus, idSeed, memoryDir, smallBar, residentVram, json };
        command.SetAction(parse => Cli.Guard(() =>
        {
            var topologyPath = parse.GetValue(topology);
            var count = parse.GetValue(gpus);
            if (topologyPath is null && count is < 1 or > 64) throw new UsageException($"--gpus {count}: between 1 and 64");
            if (parse.GetValue(residentVram) is > SimulatorOptions.MaxResidentVram and var asked)
                throw new UsageException($"--resident-vram {asked}: at most {SimulatorOptions.MaxResidentVram} bytes (2G) of each GPU's VRAM stay resident");
            var options = new SimulatorOptions(parse.GetValue(socket)!)
            {
                Topology = topologyPath is null ? null : GpuTopology.Load(topologyPath),
                Gpus = count,
                IdSeed = parse.GetValue(idSeed),
                MemoryDir = parse.GetValue(memoryDir),
                SmallBar = parse.GetValue(smallBar),
                ResidentVram = parse.GetValue(residentVram) ?? 0,
            };
            using var stop = new ManualResetEventSlim();
            void OnSignal(PosixSignalContext context)
            {
                context.Cancel = true;
                stop.Set();
            }
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            using (var server = SimulatorServer.Start(options))
            {
                var ids = string.Join(", ", server.Topology.Gpus.Select(g => $"0x{g.GpuId:x}/renderD{g.DrmRenderMinor}"));
                if (parse.GetValue(json))
                    Cli.PrintJson(new
                    {
                        socket = server.SocketPath, memory_dir = server.MemoryDir, state = "ready", resident_vram = options.ResidentVram,
                        gpus = server.Topology.Gpus.Select(g => new { gpu_id = g.GpuId, render_minor = g.DrmRenderMinor }),
                        reclaimed = server.Reclaimed.Select(r => new { dir = r.Item1, bytes = r.Item2 }),
                    });
                else
                {
                    foreach (var (dir, bytes) in server.Reclaimed)
                        Console.Out.WriteLine($"removed {dir}: {bytes} bytes of BO memory a killed simulator left");
                    Console.Out.WriteLine($"simulator ready on {server.SocketPath}: {server.Topology.Gpus.Count} GPUs ({ids}), memory in {server.MemoryDir}" +
                                          (options.ResidentVram > 0 ? $", {options.ResidentVram} bytes of each GPU's VRAM made resident" : ""));
                }
                Console.Out.Flush();
                stop.Wait();
            }
            return Cli.ExitOk;
        }));
        return command;
    }
}
