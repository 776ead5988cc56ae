using System.Diagnostics;

namespace Gpuckpt.Engine.Transfer;

/// <summary>
/// One gpuckpt command run by a node as a child process (a whole-process checkpoint or restore: CRIU, its bridge and
/// an engine of their own), with a time limit after which it is killed.
/// </summary>
public static class GpuckptChild
{
    /// <summary>Runs <paramref name="command"/> (the gpuckpt executable and its first arguments) with <paramref name="args"/>.</summary>
    public static async Task<GpuckptChildResult> RunAsync(IReadOnlyList<string> command, IEnumerable<string> args, TimeSpan limit)
    {
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in command.Skip(1).Concat(args)) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{command[0]} could not be started");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().ConfigureAwait(false);
            return new GpuckptChildResult(process.ExitCode, await stdout.ConfigureAwait(false),
                (await stderr.ConfigureAwait(false)) + $"\ngpuckpt {info.ArgumentList.Skip(command.Count).FirstOrDefault()} did not end within {limit.TotalSeconds:F0} s and was killed");
        }
        return new GpuckptChildResult(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }
}
