using System.Diagnostics;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Native;

namespace Gpuckpt.Engine.Tests.Criu;

/// <summary>One gpuapp's output file: steps it with SIGUSR1 and reads each step's line as it is written.</summary>
internal sealed class GpuAppOutput(string path, TimeSpan timeout)
{
    public string Path { get; } = path;

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
