using Gpuckpt.Actors.Migration;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
using Spectre.Console;

namespace Gpuckpt.Host.Commands;

/// <summary>
/// `gpuckpt demo --cluster`: two `gpuckpt node` processes on loopback, each over its own simulated machine (other GPU
/// numbering); a training workload on node a is migrated to node b — checkpoint streamed while written, restored,
/// committed, resumed there, released here — and its continuation on b is compared with an uninterrupted twin on a.
/// With <c>--live</c> the job is an inference server (<c>serve</c>) that steps every millisecond while it moves, and
/// the move is live (<c>migrate --live</c>): its twin takes as many steps as it served meanwhile.
/// </summary>
internal static class ClusterDemo
{
    public static async Task<int> Run(ulong size, ulong steps, ulong seed, bool json, bool live = false)
    {
        var work = Directory.CreateTempSubdirectory("gpuckpt-cluster-demo-").FullName;
        void Say(string line)
        {
            if (!json) Console.Out.WriteLine(line);
        }
        try
        {
            // Machine b's VRAM is resident from the start, as a GPU's is: the job restored there writes into memory b
            // already holds (an eighth more than the job, for the BOs' alignments), not into pages the machine hands out
            // on first touch inside the pause.
            using var machineA = SimulatorServer.Start(new SimulatorOptions(Path.Combine(work, "a.sock")) { Gpus = 2, IdSeed = 0 });
            using var machineB = SimulatorServer.Start(new SimulatorOptions(Path.Combine(work, "b.sock")) { Gpus = 2, IdSeed = 9, ResidentVram = size + size / 8 });
            using var a = SimulatorClient.Connect(machineA.SocketPath);
            using var b = SimulatorClient.Connect(machineB.SocketPath);

            await using var nodes = await LocalNodes.Start([
                ("a", $"sim:{machineA.SocketPath}", Path.Combine(work, "state-a")),
                ("b", $"sim:{machineB.SocketPath}", Path.Combine(work, "state-b")),
            ], Path.Combine(work, "cluster"));
            Say($"node a up at {nodes.Endpoint("a")}, GPUs {Gpus(a)}");
            Say($"node b up at {nodes.Endpoint("b")}, GPUs {Gpus(b)}");

            // The twin runs the same workload from the same seed and is never moved: the reference for the continuation.
            var workload = live ? "serve" : "train";
            var pid = a.Spawn(WorkloadRequest.Named(workload, seed, sizeBytes: size));
            var twin = a.Spawn(WorkloadRequest.Named(workload, seed, sizeBytes: size));
            a.Run(pid, steps);
            a.Run(twin, steps);
            var spawned = a.State(pid);
            Say($"spawned {workload} (seed {seed}) as pid {pid} on node a: {spawned.Bos} BOs, {spawned.Bytes} bytes; ran {steps} steps" +
                (live ? "; it serves on, a step every millisecond, while it moves" : ""));

            IMigrationMessage outcome;
            LiveRoundsReport? rounds = null;
            ulong served = 0;
            using (var serving = live ? Serving.Start(machineA.SocketPath, pid) : null)
            {
                await using (var contact = ClusterContact.Open(nodes.Endpoint("b"), "node.conf", nodes.ClusterDir))
                    outcome = await MigrateCommand.Migrate(contact, new MigrateRequest(pid, "a", "b"), Cli.Interactive(json), live: live ? r => rounds = r : null);
                if (serving is not null) served = await serving.Stop();
            }
            if (outcome is not MigrationCompleted { Summary: var s }) return MigrateCommand.Report(outcome, json);

            var released = !Exists(a, pid);
            b.Run(s.TargetPid, steps);
            a.Run(twin, served + steps);
            var moved = b.State(s.TargetPid);
            var reference = a.State(twin);
            var same = moved.Digest == reference.Digest && moved.Step == reference.Step;
            var rate = s.TransferSeconds > 0 ? s.ImageBytes / s.TransferSeconds / 1e6 : 0;

            if (json && !(same && released))
                return Cli.Error("demo --cluster: the migrated process diverged from its twin, or the source was not released", Cli.ExitFailed, new
                {
                    same, source_released = released,
                    target = new { node = "b", pid = s.TargetPid, step = moved.Step, digest = moved.Digest },
                    twin = new { node = "a", pid = twin, step = reference.Step, digest = reference.Digest },
                });
            if (json)
                Cli.PrintJson(new
                {
                    same, source_released = released,
                    source = new { node = "a", pid },
                    target = new { node = "b", pid = s.TargetPid, step = moved.Step, digest = moved.Digest },
                    twin = new { node = "a", pid = twin, step = reference.Step, digest = reference.Digest },
                    image_bytes = s.ImageBytes, bytes_resent = s.BytesResent, seconds = s.Seconds, transfer_seconds = s.TransferSeconds,
                    transfer_mb_per_s = rate, pause_seconds = s.PauseSeconds, gpu_map = Cli.GpuMap(s.GpuMap),
                    steps_served_while_moving = served, live_rounds = rounds?.Rounds.Select(r => new { bytes = r.Bytes, seconds = r.Seconds }),
                });
            else
            {
                var table = new Table().AddColumns("", "value");
                table.AddRow("moved", $"pid {pid} on a → pid {s.TargetPid} on b");
                table.AddRow("image", $"{s.ImageBytes / 1048576.0:F1} MiB, {s.BytesResent} bytes resent");
                table.AddRow("transfer", $"{s.TransferSeconds:F2} s, {rate:F0} MB/s");
                table.AddRow("source paused (PROCESS_INFO → released)", $"{s.PauseSeconds:F2} s");
                if (rounds is not null)
                {
                    table.AddRow("live rounds (the last paused)", string.Join(", ", rounds.Rounds.Select(r => $"{r.Bytes / 1048576.0:F1} MiB")));
                    table.AddRow("steps served while it moved", $"{served} (its twin took them too)");
                }
                table.AddRow("whole migration", $"{s.Seconds:F2} s");
                table.AddRow("GPU map a → b", Markup.Escape(string.Join(", ", s.GpuMap.Select(kv => $"{kv.Key}→{kv.Value}"))));
                table.AddRow("source on a", released ? "released (gone)" : "STILL THERE");
                table.AddRow($"digest after +{steps} steps (b)", moved.Digest);
                table.AddRow($"digest after +{steps} steps (twin on a)", reference.Digest);
                AnsiConsole.Write(table);
                Console.Out.WriteLine(same && released
                    ? "the migrated process continued on b exactly like its twin, and only one copy runs"
                    : "MISMATCH: the migrated process diverged from its twin, or the source was not released");
            }
            return same && released ? Cli.ExitOk : Cli.ExitFailed;
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    private static string Gpus(SimulatorClient machine) =>
        string.Join(", ", machine.Topology().Select(g => $"0x{g.GpuId:x} (renderD{g.DrmRenderMinor})"));

    private static bool Exists(SimulatorClient machine, uint pid)
    {
        try
        {
            machine.State(pid);
            return true;
        }
        catch (DriverException e) when (e.ErrorNumber == Errno.ESRCH)
        {
            return false;
        }
    }
}
