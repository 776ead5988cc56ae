using System.Text.Json;
using Gpuckpt.Actors.Migration;
using Gpuckpt.Emulator;
using Gpuckpt.Engine.Transfer;
using Gpuckpt.Simulator;

namespace Gpuckpt.Host;

/// <summary>
/// The emulated kernel a node hosts over its own simulator (<c>gpuckpt node --emulated-kernel</c>): stand-in GPU
/// processes run under it, a whole-process dump of one runs under the kernel that holds it, and each restore runs under
/// a kernel of its own that the restored process then lives under (a restored task inherits criu's filter and its
/// listener). Each restore's KFD RESTOREs and RESUMEs are printed, as the kernel saw them. Ending the node ends them.
/// </summary>
internal sealed class NodeKernel : IProcessKernel, IDisposable
{
    private readonly SimulatorServer _sim;
    private readonly IReadOnlyList<string> _self;
    private readonly TimeSpan _limit;
    private readonly bool _json;
    private readonly Dictionary<uint, (EmulatedKernel Kernel, TaskHost Host)> _held = new();
    private readonly HashSet<uint> _restored = [];

    public NodeKernel(SimulatorServer sim, IReadOnlyList<string> self, TimeSpan limit, bool json)
    {
        if (!Environment.IsPrivilegedProcess)
            throw new InvalidOperationException("--emulated-kernel needs root: the emulated kernel's namespace and CRIU need CAP_SYS_ADMIN (run the node with sudo)");
        if (!EmulatorPrograms.Built)
            throw new InvalidOperationException($"the emulated kernel's programs are not built in {EmulatorPrograms.Dir}: install gcc and rebuild gpuckpt");
        _sim = sim;
        _self = self;
        _limit = limit;
        _json = json;
    }

    /// <summary>Starts a stand-in holding /dev/kfd and the render nodes of simulated process <paramref name="simPid"/>; its pid.</summary>
    public uint StartStandIn(uint simPid, string? counter)
    {
        var kernel = new EmulatedKernel(_sim, new EmulatedKernelOptions
        {
            Targets = [("job", simPid)],
            KfdCharacterDevice = true,
            Counters = counter is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["job"] = counter },
        });
        TaskHost host;
        try
        {
            host = kernel.Serve(_limit);
        }
        catch
        {
            kernel.Dispose();
            throw;
        }
        var pid = (uint)kernel.PidOf("job");
        lock (_held) _held[pid] = (kernel, host);
        return pid;
    }

    public bool Holds(uint pid)
    {
        lock (_held) return _held.ContainsKey(pid);
    }

    public string? Refusal(uint pid)
    {
        lock (_held)
        {
            // A restored task inherits criu's filter, and the kernel refuses to suspend a filter for a tracer under one.
            return _restored.Contains(pid)
                ? $"pid {pid} was restored under this node's emulated kernel and carries its seccomp filter, which CRIU under the kernel cannot suspend: it cannot be dumped again"
                : null;
        }
    }

    public Task<GpuckptChildResult> DumpAsync(uint pid, IReadOnlyList<string> args, TimeSpan limit) => Task.Run(() =>
    {
        (EmulatedKernel Kernel, TaskHost Host) held;
        lock (_held)
            if (!_held.TryGetValue(pid, out held)) throw new InvalidOperationException($"pid {pid} runs under no emulated kernel of this node");
        var before = ProcessIdentity.Of(pid);
        var result = Run(held.Host, args);
        // A process CRIU ended is gone from its kernel; one a failed dump left running stays under it.
        if (before is null || !before.SameAs(ProcessIdentity.Of(pid))) End(pid, null);
        return result;
    });

    public Task<GpuckptChildResult> RestoreAsync(IReadOnlyList<string> args, TimeSpan limit) => Task.Run(() =>
    {
        var kernel = new EmulatedKernel(_sim, new EmulatedKernelOptions { KfdCharacterDevice = true });
        TaskHost host;
        try
        {
            host = kernel.Serve(limit);
        }
        catch
        {
            kernel.Dispose();
            throw;
        }
        var result = Run(host, args);
        if (result.ExitCode == 0 && RestoredPid(result.Stdout) is { } pid)
        {
            lock (_held)
            {
                _held[pid] = (kernel, host);
                _restored.Add(pid);
            }
            Report(pid, kernel);
            return result;
        }
        Close(kernel, host, null);
        return result;
    });

    /// <summary>gpuckpt with <paramref name="args"/> run by <paramref name="host"/>, under its kernel's filter; what it wrote is both its stdout and stderr.</summary>
    private GpuckptChildResult Run(TaskHost host, IReadOnlyList<string> args)
    {
        var output = Path.Combine(Path.GetTempPath(), $"gpuckpt-kernel-run-{Guid.NewGuid():N}.out");
        try
        {
            var rc = host.Run(output, [.. _self, .. args]);
            var text = File.Exists(output) ? File.ReadAllText(output) : "";
            return new GpuckptChildResult(rc, text, rc == 0 ? text : ErrorOf(text));
        }
        finally
        {
            File.Delete(output);
        }
    }

    /// <summary>The message of the --json error object a failed command printed last, else all it wrote.</summary>
    private static string ErrorOf(string text)
    {
        var line = text.Split('\n').LastOrDefault(l => l.StartsWith("{\"error\"", StringComparison.Ordinal));
        if (line is null) return text;
        try
        {
            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.GetProperty("error").GetProperty("message").GetString() ?? text;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return text;
        }
    }

    private static uint? RestoredPid(string stdout)
    {
        var line = stdout.Split('\n').LastOrDefault(l => l.StartsWith('{'));
        if (line is null) return null;
        using var doc = JsonDocument.Parse(line);
        return doc.RootElement.TryGetProperty("pid", out var pid) ? pid.GetUInt32() : null;
    }

    /// <summary>One line per restore: the RESTOREs and RESUMEs the new kernel served (who issued them and their errno).</summary>
    private void Report(uint pid, EmulatedKernel kernel)
    {
        var restores = kernel.Restores;
        var resumes = kernel.Resumes;
        if (_json)
            Cli.PrintJson(new
            {
                kernel = "restored",
                pid,
                restores = restores.Select(r => new { process = r.Process, tid = r.Tid, sim_pid = r.SimPid, errno = r.Errno }),
                resumes = resumes.Select(r => new { pid = r.Pid, tid = r.Tid, errno = r.Errno }),
            });
        else
            Console.Out.WriteLine($"emulated kernel: pid {pid} restored; " +
                string.Join(", ", restores.Select(r => $"RESTORE by task {r.Tid} of process {r.Process} for simulated pid {r.SimPid} (errno {r.Errno})")) +
                $"; RESUME {resumes.Count}x ({string.Join(", ", resumes.Select(r => $"errno {r.Errno}"))})");
        Console.Out.Flush();
    }

    private void End(uint pid, uint? running)
    {
        (EmulatedKernel Kernel, TaskHost Host) held;
        lock (_held)
        {
            if (!_held.Remove(pid, out held)) return;
            _restored.Remove(pid);
        }
        Close(held.Kernel, held.Host, running);
    }

    /// <summary>Ends a kernel: first <paramref name="running"/>, the process still under it (its taskhost waits for one it adopted), then its launcher.</summary>
    private static void Close(EmulatedKernel kernel, TaskHost host, uint? running)
    {
        if (running is { } pid && ProcessIdentity.Taken(pid))
        {
            try
            {
                host.Kill((int)pid);
            }
            catch (InvalidOperationException)
            {
                // Not the taskhost's child (a stand-in kfdemu started): the signal went out, kfdemu reaps it.
            }
        }
        try
        {
            host.Dispose();
        }
        catch (TimeoutException)
        {
            // Its launcher was killed: Dispose below ends what is left.
        }
        kernel.Dispose();
    }

    public void Dispose()
    {
        List<KeyValuePair<uint, (EmulatedKernel Kernel, TaskHost Host)>> all;
        lock (_held)
        {
            all = [.. _held];
            _held.Clear();
        }
        foreach (var (pid, (kernel, host)) in all) Close(kernel, host, pid);
    }
}
