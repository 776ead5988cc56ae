using System.Diagnostics;
using System.Globalization;

namespace Gpuckpt.Load;

/// <summary>
/// `gpuckpt serve` for a bench: the resident engine of the bench's state directory, started as users start it and
/// stopped with SIGTERM as they stop it; its peak RSS (VmHWM) is read just before, since it ran the commands' jobs.
/// </summary>
public sealed class ServedEngine : IAsyncDisposable
{
    private readonly Process _process;
    private bool _stopped;

    private ServedEngine(Process process) => _process = process;

    public static async Task<ServedEngine> StartAsync(string gpuckpt, string driver, string stateDir)
    {
        var command = CliBench.Command(gpuckpt, ["serve", "--driver", driver, "--state-dir", stateDir, "--json"]);
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in command[1..]) info.ArgumentList.Add(a);
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {string.Join(' ', command)}");
        var errors = process.StandardError.ReadToEndAsync();
        var first = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(1));
        if (first is null || !first.Contains("\"serving\"", StringComparison.Ordinal))
        {
            await process.WaitForExitAsync();
            throw new InvalidOperationException($"gpuckpt serve did not start (exit {process.ExitCode}): {first} {await errors}");
        }
        return new ServedEngine(process);
    }

    /// <summary>Stops it as users do (SIGTERM) and returns its peak RSS in KiB.</summary>
    public async Task<double> StopAsync()
    {
        var peak = PeakKiB(_process.Id);
        _stopped = true;
        if (Kill(_process.Id, SigTerm) != 0) _process.Kill();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        return peak;
    }

    private const int SigTerm = 15;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    private static double PeakKiB(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopped)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
