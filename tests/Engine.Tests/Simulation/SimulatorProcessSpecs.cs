using System.Text.Json;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Uapi;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Simulation;

/// <summary>`gpuckpt simulator` as its own OS process, driven by the client and by the spawn/run/state commands.</summary>
public sealed class SimulatorProcessSpecs
{
    [Fact]
    public void A_paused_process_stays_paused_when_its_checkpointer_goes_away()
    {
        var socket = TestSimulator.NewSocketPath();
        using (var sim = SimulatorProcess.Start(socket, gpus: 2, idSeed: 7))
        {
            Assert.StartsWith($"simulator ready on {socket}: 2 GPUs", sim.Ready);
            uint pid;
            string digest;
            using (var first = SimulatorClient.Connect(socket))
            {
                pid = first.Spawn(WorkloadRequest.Named("tiny", 21));
                first.Run(pid, 2);
                using var kfd = first.OpenKfd(pid);
                var info = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.ProcessInfo };
                Assert.Equal(0, kfd.CriuOp(ref info, [], [], []));
                digest = first.State(pid).Digest;
            }

            // A restarted checkpointer finds the process still paused and, without pausing it again, unpauses it once.
            using var second = SimulatorClient.Connect(socket);
            var state = second.State(pid);
            Assert.True(state.Paused);
            Assert.Equal(digest, state.Digest);
            using var kfd2 = second.OpenKfd(pid);
            var unpause = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.Unpause };
            Assert.Equal(0, kfd2.CriuOp(ref unpause, [], [], []));
            Assert.Equal(new ProcessCounters(1, 0, 1, 0, 0, Evictions: 0), second.State(pid).Counters);
            Assert.Equal(3UL, second.Run(pid, 1));
        }
        Assert.False(File.Exists(socket), "the simulator left its socket behind");
    }

    [Fact]
    public void Spawn_run_and_state_commands_drive_the_simulator()
    {
        var socket = TestSimulator.NewSocketPath();
        using var sim = SimulatorProcess.Start(socket, gpus: 2, idSeed: 8);
        var driver = $"sim:{socket}";

        var spawn = GpuckptProcess.Run("spawn", "--driver", driver, "--workload", "tiny", "--seed", "5", "--json");
        Assert.Equal(0, spawn.ExitCode);
        var pid = JsonDocument.Parse(spawn.Stdout).RootElement.GetProperty("pid").GetUInt32();

        Assert.Equal(0, GpuckptProcess.Run("run", "--driver", driver, "--pid", pid.ToString(), "--steps", "3").ExitCode);
        var state = GpuckptProcess.Run("state", "--driver", driver, "--pid", pid.ToString(), "--json");
        Assert.Equal(0, state.ExitCode);
        var json = JsonDocument.Parse(state.Stdout).RootElement;
        Assert.Equal(3UL, json.GetProperty("step").GetUInt64());
        Assert.True(json.GetProperty("running").GetBoolean());

        // The same workload in-process, on other GPUs, reaches the same digest.
        using var local = new TestSimulator(gpus: 1, idSeed: 99);
        var twin = local.Client.Spawn(WorkloadRequest.Named("tiny", 5));
        local.Client.Run(twin, 3);
        Assert.Equal(local.Client.State(twin).Digest, json.GetProperty("digest").GetString());

        var missing = GpuckptProcess.Run("state", "--driver", driver, "--pid", "99999", "--json");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("ESRCH", missing.Stderr);
        var kfd = GpuckptProcess.Run("run", "--driver", "kfd", "--pid", "1", "--steps", "1");
        Assert.Equal(2, kfd.ExitCode);
        Assert.Contains("simulated driver", kfd.Stderr);
    }

    [Fact]
    public void The_simulator_refuses_a_missing_topology_file()
    {
        var r = GpuckptProcess.Run("simulator", "--socket", TestSimulator.NewSocketPath(), "--topology", "/nonexistent/topology.json");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("/nonexistent/topology.json", r.Stderr);
    }

}
