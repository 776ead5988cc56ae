using System.Diagnostics;

namespace Gpuckpt.Actors.Tests.Recovery;

/// <summary>The gpuckpt executable run as its own OS process, the way a user (or a crash) meets it.</summary>
internal static class EngineProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        /// <summary>128 + SIGKILL: how .NET reports a child that was killed.</summary>
        public bool Killed => ExitCode == 137;
        public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
    }

    public static async Task<Result> Run(IEnumerable<string> args, IReadOnlyDictionary<string, string> env, TimeSpan timeout)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "gpuckpt.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment.Remove("GPUCKPT_CRASH_AT");
        foreach (var (k, v) in env) info.Environment[k] = v;
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start gpuckpt");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"gpuckpt {string.Join(' ', args)} did not finish in {timeout}");
        }
        return new Result(process.ExitCode, (await stdout).Trim(), (await stderr).Trim());
    }
}
