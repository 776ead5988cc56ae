using System.Diagnostics;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Native;

namespace Gpuckpt.Engine.Tests.Criu;

/// <summary>One gpuapp's output file: steps it with SIGUSR1 and reads each step's line as it is written.</summary>
internal sealed class GpuAppOutput(string path, TimeSpan timeout)
{
    public string Path { get; } = path;

    /// <summary>
    /// The plain counter and its untouched twin, spawned under <paramref name="host"/> with one seed into
    /// <paramref name="dir"/>'s app.out and twin.out, both ready and stepped <paramref name="steps"/> times in lockstep
    /// (each step's line equal).
    /// </summary>
    public static (GpuAppOutput App, int Pid, GpuAppOutput Twin, int TwinPid) StartPlainWithTwin(Gpuckpt.Emulator.TaskHost host, string dir, string seed,
        TimeSpan timeout, int steps)
    {
        var app = new GpuAppOutput(System.IO.Path.Combine(dir, "app.out"), timeout);
        var twin = new GpuAppOutput(System.IO.Path.Combine(dir, "twin.out"), timeout);
        var pid = host.Spawn(app.Path, CriuPrograms.GpuApp, "plain", seed);
        var twinPid = host.Spawn(twin.Path, CriuPrograms.GpuApp, "plain", seed);
        app.WaitFor("ready");
        twin.WaitFor("ready");
        for (var i = 0; i < steps; i++) Xunit.Assert.Equal(twin.Step(twinPid), app.Step(pid));
        return (app, pid, twin, twinPid);
    }

    /// <summary>Every line so far.</summary>
    public IReadOnlyList<string> Lines => File.Exists(Path) ? File.ReadAllLines(Path) : [];

    /// <summary>Waits until a line starting with <paramref name="prefix"/> is there, past the first <paramref name="after"/> lines.</summary>
    public string WaitFor(string prefix, int after = 0)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var line = Lines.Skip(after).FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
            if (line is not null) return line;
            if (clock.Elapsed > timeout) throw new TimeoutException($"no '{prefix}' line in {Path} after {timeout}: {string.Join(" | ", Lines)}");
            Thread.Sleep(5); // the program writes its line from another process: look again
        }
    }

    /// <summary>Asks process <paramref name="pid"/> for its next step and returns that step's line.</summary>
    public string Step(int pid)
    {
        var before = Lines.Count;
        if (Libc.Kill(pid, SigUsr1) != 0) throw new InvalidOperationException($"kill({pid}, SIGUSR1): {Errno.Name(Libc.LastErrno)}");
        return WaitFor("step=", before);
    }

    private const int SigUsr1 = 10;
}
