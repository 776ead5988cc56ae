using System.Net.Sockets;
using System.Text.Json;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Simulation;

/// <summary>
/// The simulator as a shared service: a second one never takes a live socket, no client's run can wedge it for the
/// others, a client that dies stops its work, and a client never waits forever for an answer.
/// </summary>
public sealed class SimulatorGuardSpecs
{
    [Fact]
    public async Task A_second_simulator_on_a_live_socket_refuses_and_leaves_the_first_one_serving()
    {
        var socket = TestSimulator.NewSocketPath();
        using var first = SimulatorProcess.Start(socket);
        uint pid;
        using (var client = SimulatorClient.Connect(socket)) pid = client.Spawn(WorkloadRequest.Named("tiny", 3));

        var second = await GpuckptProcess.RunAsync(["simulator", "--socket", socket], timeout: TimeSpan.FromMinutes(1));
        Assert.Equal(1, second.ExitCode);
        Assert.Equal($"gpuckpt: cannot listen on {socket}: another simulator is serving it (stop that one, or choose another --socket)\n", second.Stderr);

        // The first one still owns its socket, and its process is still there.
        using var again = SimulatorClient.Connect(socket);
        Assert.Equal(pid, again.State(pid).Pid);
    }

    [Fact]
    public async Task A_dead_simulators_socket_is_taken_over()
    {
        var socket = TestSimulator.NewSocketPath();
        using (var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            stale.Bind(new UnixDomainSocketEndPoint(socket)); // bound, never listening: what a killed simulator leaves
        }
        using var sim = SimulatorProcess.Start(socket);
        using var client = SimulatorClient.Connect(socket);
        Assert.NotEmpty(client.Topology());
        await Task.CompletedTask;
    }

    [Fact]
    public void A_simulator_that_stops_leaves_a_socket_another_one_bound_since()
    {
        var socket = TestSimulator.NewSocketPath();
        var first = SimulatorServer.Start(new SimulatorOptions(socket));
        // Its socket unlinked by hand (a wrong cleanup, an operator), and a second simulator bound at the same path.
        File.Delete(socket);
        using var second = SimulatorServer.Start(new SimulatorOptions(socket));
        uint pid;
        using (var client = SimulatorClient.Connect(socket)) pid = client.Spawn(WorkloadRequest.Named("tiny", 3));

        first.Dispose();

        // The path is the second one's: the first, going away, unlinks nothing that is not its own.
        Assert.True(File.Exists(socket), $"{socket} was unlinked by the simulator that stopped");
        using var again = SimulatorClient.Connect(socket);
        Assert.Equal(pid, again.State(pid).Pid);
    }

    [Fact]
    public async Task A_huge_run_neither_wedges_other_clients_nor_outlives_its_killed_client()
    {
        var socket = TestSimulator.NewSocketPath();
        using var sim = SimulatorProcess.Start(socket);
        using var client = SimulatorClient.Connect(socket);
        var busy = client.Spawn(WorkloadRequest.Named("tiny", 5));
        var other = client.Spawn(WorkloadRequest.Named("tiny", 6));

        using var run = GpuckptProcess.Start(["run", "--driver", $"sim:{socket}", "--pid", busy.ToString(), "--steps", "4611686018427387904"]);
        // The run has started once its process's step moves; meanwhile another process is served at once.
        await Eventually(() => client.State(busy).Step > 0, "the huge run never started");
        Assert.Equal(3UL, client.Run(other, 3));
        Assert.Equal(3UL, client.State(other).Step);
        Assert.False(run.HasExited, $"the run of 2^62 steps ended: {run.Output}");

        run.Kill();
        // Once its client is gone the run stops: the step count settles and the process takes other work.
        ulong last = ulong.MaxValue;
        await Eventually(() =>
        {
            var now = client.State(busy).Step;
            var settled = now == last;
            last = now;
            return settled;
        }, "the run went on after its client was killed", pause: TimeSpan.FromMilliseconds(300));
        Assert.Equal(last + 2, client.Run(busy, 2));
    }

    [Fact]
    public async Task A_socket_that_accepts_but_never_answers_fails_state_with_a_timeout_naming_it()
    {
        var socket = TestSimulator.NewSocketPath();
        using var mute = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        mute.Bind(new UnixDomainSocketEndPoint(socket));
        mute.Listen(4);
        try
        {
            var r = await GpuckptProcess.RunAsync(["state", "--driver", $"sim:{socket}", "--pid", "1000", "--json"],
                new Dictionary<string, string> { ["GPUCKPT_SIM_TIMEOUT"] = "1" }, TimeSpan.FromMinutes(1));
            Assert.Equal(1, r.ExitCode);
            // With --json the failure is the error object on stdout, and its line on stderr.
            var error = System.Text.Json.JsonDocument.Parse(r.Stdout).RootElement.GetProperty("error");
            Assert.Equal(1, error.GetProperty("code").GetInt32());
            Assert.Contains("ETIMEDOUT", error.GetProperty("message").GetString());
            Assert.Contains($"sim:{socket}", r.Stderr);
            Assert.Contains("ETIMEDOUT", r.Stderr);
            Assert.Contains("no answer from the simulator within 1 s", r.Stderr);
        }
        finally
        {
            File.Delete(socket);
        }
    }

    /// <summary>Polls until <paramref name="condition"/> holds, failing with <paramref name="why"/> after a minute.</summary>
    private static async Task Eventually(Func<bool> condition, string why, TimeSpan? pause = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, why);
            await Task.Delay(pause ?? TimeSpan.FromMilliseconds(50));
        }
    }
}
