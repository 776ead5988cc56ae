using System.Diagnostics;

namespace Gpuckpt.Emulator;

/// <summary>A short helper program run to its end: its exit code and both streams.</summary>
internal static class ProcessExec
{
    public static (int Rc, string Out, string Err) Run(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish in {timeout}");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
