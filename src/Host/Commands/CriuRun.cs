using System.Diagnostics;
using Gpuckpt.Engine.Bridge;

namespace Gpuckpt.Host.Commands;

/// <summary>
/// One run of <c>criu</c> with the bridge loaded and this process's bridge server behind it: the socket lives in a
/// directory only this user can enter, CRIU finds it through $GPUCKPT_BRIDGE_SOCKET, and the server stops when CRIU ends.
/// </summary>
internal static class CriuRun
{
    /// <summary>Runs criu with <paramref name="args"/>; its exit code and the last error lines of its log.</summary>
    public static async Task<(int ExitCode, string Problem)> RunAsync(CriuInstall criu, IReadOnlyList<string> args, string log, Action<BridgeConnection> serve, List<string> refusals)
    {
        var socketDir = Directory.CreateTempSubdirectory("gpuckpt-bridge-");
        try
        {
            var socket = Path.Combine(socketDir.FullName, "bridge.sock");
            using var server = BridgeServer.Start(socket, serve, r =>
            {
                lock (refusals) refusals.Add(r);
            });
            var info = new ProcessStartInfo(criu.Path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args) info.ArgumentList.Add(a);
            info.Environment["GPUCKPT_BRIDGE_SOCKET"] = socket;
            using var process = Process.Start(info) ?? throw new InvalidOperationException($"{criu.Path} could not be started");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().ConfigureAwait(false);
            var output = (await stdout.ConfigureAwait(false)) + (await stderr.ConfigureAwait(false));
            return (process.ExitCode, process.ExitCode == 0 ? "" : Problem(log, output));
        }
        finally
        {
            socketDir.Delete(recursive: true);
        }
    }

    /// <summary>The lines of CRIU's log that say what went wrong: ours (gpuckpt) first, else its first errors.</summary>
    private static string Problem(string log, string output)
    {
        var lines = File.Exists(log) ? File.ReadAllLines(log) : output.Split('\n');
        var ours = lines.Where(l => l.Contains("gpuckpt", StringComparison.Ordinal) && !l.Contains("GPU unpaused", StringComparison.Ordinal)).Select(Strip).ToList();
        var errors = lines.Where(l => l.Contains("Error", StringComparison.Ordinal)).Select(Strip).Take(2).ToList();
        var picked = ours.Count > 0 ? ours.TakeLast(2).ToList() : errors;
        return picked.Count > 0 ? string.Join(" | ", picked) : output.Trim();
    }

    /// <summary>CRIU's log lines start with a timestamp in parentheses.</summary>
    private static string Strip(string line) => line.StartsWith('(') && line.IndexOf(") ", StringComparison.Ordinal) is var i and > 0 ? line[(i + 2)..].Trim() : line.Trim();
}
