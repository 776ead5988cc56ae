using System.Diagnostics;

namespace Gpuckpt.Actors;

/// <summary>
/// Fault injection for crash-recovery tests: with <c>GPUCKPT_CRASH_AT=name</c> (or <c>name#n</c> for the n-th time the
/// point is reached) the engine process kills itself with SIGKILL there, as an OOM kill or a power cut would.
/// </summary>
public static class CrashPoints
{
    private static readonly (string Name, int Nth)? Target = Parse(Environment.GetEnvironmentVariable("GPUCKPT_CRASH_AT"));
    private static int _hits;

    public static void Hit(string name)
    {
        if (Target is not { } target || target.Name != name) return;
        if (Interlocked.Increment(ref _hits) < target.Nth) return;
        Console.Error.Flush();
        Process.GetCurrentProcess().Kill();
        Thread.Sleep(Timeout.Infinite);
    }

    private static (string, int)? Parse(string? value)
    {
        if (string.IsNullOrEmpty(value)) return null;
        var hash = value.IndexOf('#');
        return hash < 0 ? (value, 1) : (value[..hash], int.Parse(value[(hash + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }
}
