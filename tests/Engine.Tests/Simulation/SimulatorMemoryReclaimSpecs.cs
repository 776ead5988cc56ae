using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Simulation;

/// <summary>
/// BO memory files do not outlive their simulator: one killed with SIGKILL leaves its directory behind, and the next
/// simulator to start removes it (and says so), while a live simulator's stays; SIGTERM removes a simulator's own. A simulator knows another is alive by the lock it holds, not by its pid, which
/// a simulator in another pid namespace cannot see. The
/// simulators of this spec keep their memory under a root of their own, which no other spec's simulator touches.
/// </summary>
public sealed class SimulatorMemoryReclaimSpecs
{
    private static readonly TimeSpan Wait = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task A_killed_simulators_memory_goes_at_the_next_start_a_live_ones_stays_and_sigterm_removes_its_own()
    {
        var root = Directory.CreateTempSubdirectory("gpuckpt-shm-").FullName;
        var env = new Dictionary<string, string> { [SimulatorServer.MemoryRootVariable] = root };
        var sockets = new[] { TestSimulator.NewSocketPath(), TestSimulator.NewSocketPath(), TestSimulator.NewSocketPath() };
        try
        {
            using var live = GpuckptProcess.Start(["simulator", "--socket", sockets[0]], env);
            var liveDir = MemoryDir(await live.WaitForLineAsync(Ready, Wait));
            string killedDir;
            using (var killed = GpuckptProcess.Start(["simulator", "--socket", sockets[1]], env))
            {
                killedDir = MemoryDir(await killed.WaitForLineAsync(Ready, Wait));
                Assert.StartsWith(root, killedDir);
                using (var client = SimulatorClient.Connect(sockets[1])) client.Spawn(WorkloadRequest.Named("tiny", 3));
                Assert.NotEmpty(Directory.EnumerateFiles(killedDir, "*", SearchOption.AllDirectories));
                killed.Signal(GpuckptProcess.SigKill);
                await killed.WaitForExitAsync(Wait);
            }
            Assert.True(Directory.Exists(killedDir), "a simulator killed with SIGKILL removed its memory itself");

            using var next = GpuckptProcess.Start(["simulator", "--socket", sockets[2]], env);
            var ownDir = MemoryDir(await next.WaitForLineAsync(Ready, Wait));
            Assert.False(Directory.Exists(killedDir), $"the next simulator left {killedDir} of the killed one");
            Assert.Matches($@"removed {System.Text.RegularExpressions.Regex.Escape(killedDir)}: [1-9][0-9]* bytes of BO memory a killed simulator left", next.Output);
            Assert.True(Directory.Exists(liveDir), "a live simulator's memory was removed");

            next.Signal(GpuckptProcess.SigTerm);
            var stopped = await next.WaitForExitAsync(Wait);
            Assert.True(stopped.ExitCode == 0, stopped.ToString());
            Assert.False(Directory.Exists(ownDir), "SIGTERM left the simulator's own memory");
            live.Signal(GpuckptProcess.SigTerm);
            Assert.Equal(0, (await live.WaitForExitAsync(Wait)).ExitCode);
            Assert.Empty(Directory.EnumerateFileSystemEntries(root));
        }
        finally
        {
            foreach (var socket in sockets) File.Delete(socket);
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_simulator_starting_in_another_pid_namespace_leaves_a_live_simulators_memory_alone()
    {
        var root = Directory.CreateTempSubdirectory("gpuckpt-shm-").FullName;
        var env = new Dictionary<string, string> { [SimulatorServer.MemoryRootVariable] = root };
        var sockets = new[] { TestSimulator.NewSocketPath(), TestSimulator.NewSocketPath() };
        try
        {
            using var live = GpuckptProcess.Start(["simulator", "--socket", sockets[0]], env);
            var liveDir = MemoryDir(await live.WaitForLineAsync(Ready, Wait));
            using (var client = SimulatorClient.Connect(sockets[0])) client.Spawn(WorkloadRequest.Named("tiny", 3));

            // Its /proc shows none of this namespace's pids (as in a container that shares the memory root): a pid that
            // does not show there is no proof that its simulator is dead.
            var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
            var start = new System.Diagnostics.ProcessStartInfo("unshare") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "--pid", "--fork", "--mount-proc", "--kill-child", dotnet, Path.Combine(AppContext.BaseDirectory, "gpuckpt.dll"), "simulator", "--socket", sockets[1] })
                start.ArgumentList.Add(a);
            start.Environment[SimulatorServer.MemoryRootVariable] = root;
            using var other = System.Diagnostics.Process.Start(start)!;
            var errors = other.StandardError.ReadToEndAsync();
            try
            {
                using var deadline = new CancellationTokenSource(Wait);
                string? line;
                while ((line = await other.StandardOutput.ReadLineAsync(deadline.Token)) is not null && !Ready(line)) { }
                Assert.True(line is not null, $"the simulator in its own pid namespace did not start: {(other.HasExited ? await errors : "")}");
            }
            finally
            {
                other.Kill(entireProcessTree: true);
                await other.WaitForExitAsync();
            }

            Assert.True(Directory.Exists(liveDir), "a simulator in another pid namespace removed a live simulator's memory");
            Assert.NotEmpty(Directory.EnumerateFiles(liveDir, "*.mem"));
            live.Signal(GpuckptProcess.SigTerm);
            Assert.Equal(0, (await live.WaitForExitAsync(Wait)).ExitCode);
        }
        finally
        {
            foreach (var socket in sockets) File.Delete(socket);
            Directory.Delete(root, recursive: true);
        }
    }

    private static bool Ready(string line) => line.StartsWith(SimulatorProcess.ReadyLine, StringComparison.Ordinal);

    private static string MemoryDir(string readyLine) => readyLine[(readyLine.LastIndexOf("memory in ", StringComparison.Ordinal) + "memory in ".Length)..];
}
