namespace Gpuckpt.Tests.Support;

/// <summary>
/// `gpuckpt simulator` as a separate OS process (a real process boundary, as between a checkpointer and the kernel).
/// Ready when it prints its ready line, which it does only once its socket serves; stopped with SIGTERM (then
/// killed) on Dispose.
/// </summary>
public sealed class SimulatorProcess : IDisposable
{
    public const string ReadyLine = "simulator ready";
    private readonly GpuckptProcess _process;

    private SimulatorProcess(GpuckptProcess process, string socketPath, string readyLine)
    {
        _process = process;
        SocketPath = socketPath;
        Ready = readyLine;
    }

    public string SocketPath { get; }
    public int ProcessId => _process.ProcessId;
    public string Driver => $"sim:{SocketPath}";

    /// <summary>The line it printed once it served its socket.</summary>
    public string Ready { get; }

    /// <summary>What the simulator printed so far.</summary>
    public string Output => _process.Output;

    public static SimulatorProcess Start(string socketPath, int gpus = 2, uint idSeed = 0, string? topologyPath = null,
        string? memoryDir = null, TimeSpan? timeout = null, string program = "gpuckpt.dll")
    {
        var args = new List<string> { "simulator", "--socket", socketPath, "--gpus", gpus.ToString(), "--id-seed", idSeed.ToString() };
        if (topologyPath is not null) args.AddRange(["--topology", topologyPath]);
        if (memoryDir is not null) args.AddRange(["--memory-dir", memoryDir]);
        var process = GpuckptProcess.Start(args, program: program);
        try
        {
            var ready = process.WaitForLineAsync(l => l.StartsWith(ReadyLine, StringComparison.Ordinal), timeout ?? TimeSpan.FromMinutes(1))
                .GetAwaiter().GetResult();
            return new SimulatorProcess(process, socketPath, ready);
        }
        catch
        {
            process.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        // SIGTERM lets it remove its socket and memory files; SIGKILL only if it does not stop.
        _process.Stop(TimeSpan.FromSeconds(30));
        _process.Dispose();
    }
}
