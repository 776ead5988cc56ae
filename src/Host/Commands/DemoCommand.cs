using System.CommandLine;
using Gpuckpt.Actors;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Persistence;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Simulator;
using Spectre.Console;

namespace Gpuckpt.Host.Commands;

/// <summary>
/// `gpuckpt demo`: the whole story on embedded simulated machines — checkpoint a training workload on node A, restore
/// it on node B (other GPU numbering), run both on and show that their digests agree.
/// </summary>
public static class DemoCommand
{
    /// <summary>The whole-process demo's GPU memory unless --size is given: CRIU and the engine both write its image.</summary>
    private const ulong CriuDemoSize = 64UL << 20;

    public static Command Create()
    {
        var size = ByteSizeOption.Create("--size", "GPU memory the train workload uses (within 1% from 64M up), default 1G (64M with --criu)");
        var steps = new Option<ulong>("--steps") { Description = "steps before the checkpoint and after it", DefaultValueFactory = _ => 3 };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 2026 };
        var cluster = new Option<bool>("--cluster")
        {
            Description = "migrate the job between two gpuckpt node processes on loopback instead (checkpoint streamed, restored, resumed there, released here)",
        };
        var live = new Option<bool>("--live")
        {
            Description = "with --cluster: an inference server (serve) stepping every millisecond, moved live (migrate --live)",
        };
        var criu = new Option<bool>("--criu")
        {
            Description = "a whole GPU process through CRIU instead: a stand-in process under the emulated kernel, dumped by checkpoint --criu, " +
                          "restored by restore --criu under its pid (root, CRIU 4.2; --size defaults to 64 MiB); with --cluster, a CPU counter process " +
                          "moved whole between two node processes by migrate --criu",
        };
        var json = Cli.JsonOption();
        var command = new Command("demo", "checkpoint a simulated training job, restore it on another node, compare") { size, steps, seed, cluster, criu, live, json };
        command.SetAction((parse, _) => Cli.Guard(() =>
        {
            if (parse.GetValue(live) && (!parse.GetValue(cluster) || parse.GetValue(criu)))
                throw new UsageException("--live moves a process between nodes while it runs: it goes with --cluster, without --criu");
            if (parse.GetValue(cluster) && parse.GetValue(criu))
            {
                if (parse.GetValue(size) is not null) throw new UsageException("--size has no GPU memory to size with --cluster --criu: its process is a CPU counter");
                return CriuClusterDemo.Run(parse.GetValue(json));
            }
            if (parse.GetValue(criu))
                return CriuDemo.Run(parse.GetValue(size) ?? CriuDemoSize, parse.GetValue(steps), parse.GetValue(seed), parse.GetValue(json));
            return parse.GetValue(cluster)
                ? ClusterDemo.Run(parse.GetValue(size) ?? DefaultSize, parse.GetValue(steps), parse.GetValue(seed), parse.GetValue(json), parse.GetValue(live))
                : Run(parse.GetValue(size) ?? DefaultSize, parse.GetValue(steps), parse.GetValue(seed), parse.GetValue(json));
        }));
        return command;
    }

    private const ulong DefaultSize = 1UL << 30;

    private static async Task<int> Run(ulong size, ulong steps, ulong seed, bool json)
    {
        var interactive = Cli.Interactive(json);
        var work = Directory.CreateTempSubdirectory("gpuckpt-demo-").FullName;
        void Say(string line)
        {
            if (json) return;
            StatusLine.Clear();
            Console.Out.WriteLine(line);
        }
        try
        {
            StatusLine.Say(interactive, "starting simulated nodes A and B…");
            using var nodeA = SimulatorServer.Start(new SimulatorOptions(Path.Combine(work, "node-a.sock")) { Gpus = 2, IdSeed = 0 });
            using var nodeB = SimulatorServer.Start(new SimulatorOptions(Path.Combine(work, "node-b.sock")) { Gpus = 2, IdSeed = 9 });
            using var a = SimulatorClient.Connect(nodeA.SocketPath);
            using var b = SimulatorClient.Connect(nodeB.SocketPath);
            Say($"node A GPUs: {string.Join(", ", a.Topology().Select(g => $"0x{g.GpuId:x} (renderD{g.DrmRenderMinor})"))}");
            Say($"node B GPUs: {string.Join(", ", b.Topology().Select(g => $"0x{g.GpuId:x} (renderD{g.DrmRenderMinor})"))}");

            StatusLine.Say(interactive, $"spawning train ({size} bytes) on node A and running {steps} steps…");
            var pid = a.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: size));
            a.Run(pid, steps);
            var spawned = a.State(pid);
            Say($"spawned train (seed {seed}) as pid {pid} on node A: {spawned.Bos} BOs, {spawned.Bytes} bytes; ran {steps} steps");

            var images = Path.Combine(work, "image");
            CheckpointSummary checkpoint;
            // The embedded default: jobs journalled in SQLite (here in the demo's own state directory).
            var config = JournalConfig.Load("journal-sqlite.conf", Path.Combine(work, "state")).WithFallback(EngineConfig.Load());
            StatusLine.Say(interactive, "starting engine on node A…");
            await using (var engineA = EngineHost.Start(a, config, "node-a"))
            {
                var reply = await ProgressView.Run(engineA.System, interactive, "checkpoint",
                    () => engineA.CheckpointAsync(new CheckpointRequest(pid, images, LeaveRunning: true)));
                if (reply is not CheckpointCompleted done) return CheckpointCommand.Report(reply, json);
                checkpoint = done.Summary;
            }

            RestoreSummary restore;
            StatusLine.Say(interactive, "starting engine on node B…");
            await using (var engineB = EngineHost.Start(b, config, "node-b"))
            {
                var reply = await ProgressView.Run(engineB.System, interactive, "restore",
                    () => engineB.RestoreAsync(new RestoreRequest(images)));
                if (reply is not RestoreCompleted done) return RestoreCommand.Report(reply, json);
                restore = done.Summary;
            }

            a.Run(pid, steps);
            b.Run(restore.Pid, steps);
            var original = a.State(pid);
            var restored = b.State(restore.Pid);
            var same = original.Digest == restored.Digest && original.Step == restored.Step;

            if (json && !same)
                return Cli.Error("demo: the restored process diverged from the original", Cli.ExitFailed, new
                {
                    original = new { pid, step = original.Step, digest = original.Digest },
                    restored = new { pid = restore.Pid, step = restored.Step, digest = restored.Digest },
                });
            if (json)
                Cli.PrintJson(new
                {
                    same,
                    original = new { pid, step = original.Step, digest = original.Digest },
                    restored = new { pid = restore.Pid, step = restored.Step, digest = restored.Digest },
                    bytes = checkpoint.Bytes, bos = checkpoint.Bos,
                    checkpoint_gb_per_s = checkpoint.GigabytesPerSecond, restore_gb_per_s = restore.GigabytesPerSecond,
                    pause_seconds = checkpoint.PauseSeconds, gpu_map = Cli.GpuMap(restore.GpuMap), render_passes = restore.RenderPasses,
                    checkpoint_phases = Cli.Phases(checkpoint.Phases), restore_phases = Cli.Phases(restore.Phases),
                });
            else
            {
                var table = new Table().AddColumns("", "value");
                table.AddRow("BO contents", $"{checkpoint.Bytes / 1048576.0:F1} MiB");
                table.AddRow("BOs", $"{checkpoint.Bos}");
                table.AddRow("checkpoint", $"{checkpoint.Seconds:F2} s, {checkpoint.GigabytesPerSecond:F2} GB/s");
                table.AddRow("  phases", Markup.Escape(Cli.DescribePhases(checkpoint.Phases, checkpoint.Bytes, "copy")));
                table.AddRow("restore", $"{restore.Seconds:F2} s, {restore.GigabytesPerSecond:F2} GB/s");
                table.AddRow("  phases", Markup.Escape(Cli.DescribePhases(restore.Phases, restore.Bytes, "contents")));
                table.AddRow("pause (PROCESS_INFO → UNPAUSE)", $"{checkpoint.PauseSeconds:F2} s");
                table.AddRow("GPU map A → B", Markup.Escape(string.Join(", ", restore.GpuMap.Select(kv => $"{kv.Key}→{kv.Value}"))));
                table.AddRow("render passes", $"{restore.RenderPasses}");
                table.AddRow($"digest after +{steps} steps (A)", original.Digest);
                table.AddRow($"digest after +{steps} steps (B)", restored.Digest);
                AnsiConsole.Write(table);
                Console.Out.WriteLine(same
                    ? "the restored process continued exactly like the original"
                    : "MISMATCH: the restored process diverged from the original");
            }
            return same ? Cli.ExitOk : Cli.ExitFailed;
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }
}
