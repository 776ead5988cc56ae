using System.Diagnostics;
using System.Globalization;
using Gpuckpt.Actors;

namespace Gpuckpt.TestHooks;

/// <summary>
/// With <c>GPUCKPT_CRASH_AT=name</c> (or <c>name#n</c> for the n-th time the point is reached) the process kills
/// itself with SIGKILL there, as an OOM kill or a power cut would.
/// </summary>
public sealed class EnvironmentCrashHook(string? setting) : ICrashHook
{
    private readonly (string Name, int Nth)? _target = Parse(setting);
    private int _hits;

    public void Hit(string name)
    {
        if (_target is not { } target || target.Name != name) return;
        if (Interlocked.Increment(ref _hits) < target.Nth) return;
        Console.Error.Flush();
        Process.GetCurrentProcess().Kill();
        Thread.Sleep(Timeout.Infinite);
    }

    private static (string, int)? Parse(string? value)
    {
        if (string.IsNullOrEmpty(value)) return null;
        var hash = value.IndexOf('#');
        return hash < 0 ? (value, 1) : (value[..hash], int.Parse(value[(hash + 1)..], CultureInfo.InvariantCulture));
    }
}
