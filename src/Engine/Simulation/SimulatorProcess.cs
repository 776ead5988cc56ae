using System.Diagnostics;
using System.Runtime.InteropServices;
using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Engine.Simulation;

/// <summary>
/// `gpuckpt simulator` as a separate OS process (a real process boundary, as between a checkpointer and the kernel):
/// started with dotnet from the gpuckpt.dll beside the running assemblies, ready once its socket answers,
/// stopped with SIGTERM (then killed) on Dispose.
/// </summary>
public sealed partial class SimulatorProcess : IDisposable
{
    private const int SigTerm = 15;
    private readonly Process _process;
    private readonly System.Text.StringBuilder _output = new();

    private SimulatorProcess(Process process, string socketPath)
    {
        _process = process;
        SocketPath = socketPath;
    }

    public string SocketPath { get; }
    public int ProcessId => _process.Id;
    public string Driver => $"sim:{SocketPath}";

    /// <summary>What the simulator printed so far (its ready line, and its reason if it failed).</summary>
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public static SimulatorProcess Start(string socketPath, int gpus = 2, uint idSeed = 0, string? topologyPath = null,
        string? memoryDir = null, TimeSpan? timeout = null)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "gpuckpt.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException($"gpuckpt.dll not found beside the running assemblies in {AppContext.BaseDirectory}", dll);
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { dll, "simulator", "--socket", socketPath, "--gpus", gpus.ToString(), "--id-seed", idSeed.ToString() })
            info.ArgumentList.Add(a);
        if (topologyPath is not null) { info.ArgumentList.Add("--topology"); info.ArgumentList.Add(topologyPath); }
        if (memoryDir is not null) { info.ArgumentList.Add("--memory-dir"); info.ArgumentList.Add(memoryDir); }
        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        var sim = new SimulatorProcess(process, socketPath);
        process.OutputDataReceived += (_, e) => sim.Append(e.Data);
        process.ErrorDataReceived += (_, e) => sim.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            sim.WaitReady(timeout ?? TimeSpan.FromSeconds(30));
        }
        catch
        {
            sim.Dispose();
            throw;
        }
        return sim;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    private void WaitReady(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"simulator exited with {_process.ExitCode}: {Output.Trim()}");
            if (File.Exists(SocketPath))
            {
                try
                {
                    using var client = SimulatorClient.Connect(SocketPath);
                    client.Topology();
                    return;
                }
                catch (DriverException)
                {
                    // Bound but not listening yet.
                }
            }
            if (clock.Elapsed > timeout) throw new TimeoutException($"simulator at {SocketPath} not ready after {timeout}: {Output.Trim()}");
            Thread.Sleep(50);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            // SIGTERM lets it remove its socket and memory files; SIGKILL only if it does not stop.
            if (Kill(_process.Id, SigTerm) != 0 && !_process.HasExited)
                throw new InvalidOperationException($"kill({_process.Id}, SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
            if (!_process.WaitForExit(TimeSpan.FromSeconds(10))) _process.Kill(entireProcessTree: true);
        }
        _process.Dispose();
    }
}
