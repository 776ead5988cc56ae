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

    /// <summary>What went wrong, from CRIU's log: its last errors before it gave up, then what the engine and the bridge said of it.</summary>
    private static string Problem(string log, string output)
    {
        var lines = (File.Exists(log) ? File.ReadAllLines(log) : output.Split('\n')).Select(Strip).ToList();
        var ours = lines.Where(l => (l.StartsWith("gpuckpt: ", StringComparison.Ordinal) && !l.Contains(" saved: ", StringComparison.Ordinal))
                                    || l.StartsWith("gpuckpt_bridge: ", StringComparison.Ordinal)).ToList();
        var causes = lines.Where(l => l.StartsWith("Error (", StringComparison.Ordinal) && !l.EndsWith("FAILED.", StringComparison.Ordinal)
                                      && !l.Contains("gpuckpt", StringComparison.Ordinal)).TakeLast(2);
        var picked = causes.Concat(ours.TakeLast(2)).ToList();
        return picked.Count > 0 ? string.Join(" | ", picked) : output.Trim();
    }

    /// <summary>CRIU's log lines start with a timestamp in parentheses.</summary>
    private static string Strip(string line) => line.StartsWith('(') && line.IndexOf(") ", StringComparison.Ordinal) is var i and > 0 ? line[(i + 2)..].Trim() : line.Trim();
}
