using System.Diagnostics;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Cli;

/// <summary>
/// On a terminal the CLI says what it is doing while an engine starts, before the first progress bar; off a terminal
/// (a pipe, --json) it prints nothing of the kind, so scripts read what they always read.
/// </summary>
public sealed class StatusLineSpecs
{
    [Fact]
    [Trait("Tier", "Full")]
    public async Task A_checkpoint_on_a_terminal_says_it_is_starting_the_engine_before_its_first_progress_bar()
    {
        using var sim = new TestSimulator();
        var root = Directory.CreateTempSubdirectory("gpuckpt-status-").FullName;
        try
        {
            var pid = sim.Client.Spawn(WorkloadRequest.Named("tiny", 41));
            var args = $"checkpoint --driver sim:{sim.SocketPath} --pid {pid} --images {Path.Combine(root, "tty")} --leave-running --state-dir {Path.Combine(root, "state-tty")}";
            var (rc, screen) = await UnderTerminal(args);
            Assert.True(rc == 0, $"exit {rc}: {screen}");
            var status = screen.IndexOf($"starting engine for a checkpoint of pid {pid}", StringComparison.Ordinal);
            var firstBar = screen.IndexOf("checkpoint: ", StringComparison.Ordinal);
            Assert.True(status >= 0 && firstBar > status, $"no status line before the first progress bar (status at {status}, bar at {firstBar}): {screen}");

            var piped = await GpuckptProcess.RunAsync(["checkpoint", "--driver", $"sim:{sim.SocketPath}", "--pid", pid.ToString(), "--images", Path.Combine(root, "pipe"),
                "--leave-running", "--state-dir", Path.Combine(root, "state-pipe")], timeout: TimeSpan.FromMinutes(2));
            Assert.True(piped.ExitCode == 0, piped.ToString());
            Assert.DoesNotContain("starting engine", piped.Stdout + piped.Stderr);
            Assert.DoesNotContain("\x1b[", piped.Stdout);
            Assert.StartsWith("checkpointed pid", piped.Stdout.TrimStart());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>gpuckpt with a pseudo-terminal for its stdout and stderr (util-linux `script`): what a user's screen receives.</summary>
    private static async Task<(int ExitCode, string Screen)> UnderTerminal(string args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "gpuckpt.dll");
        var start = new ProcessStartInfo("script", ["-q", "-f", "-e", "-c", $"dotnet {dll} {args}", "/dev/null"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        start.Environment["TERM"] = "xterm";
        start.Environment.Remove("GPUCKPT_CRASH_AT");
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"gpuckpt {args} under a terminal did not exit within 2 min: {await stdout}{await stderr}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
