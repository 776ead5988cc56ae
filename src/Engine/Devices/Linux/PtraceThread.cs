using System.Collections.Concurrent;

namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>
/// The thread that may issue KFD CRIU ops on another process's /dev/kfd file. KFD takes an ioctl on a KFD file only
/// from the process that opened it, or, for the CRIU ops, from that process's ptrace parent, and the parent is the
/// tracing task (thread) itself. So one dedicated thread seizes the target (PTRACE_SEIZE: traced, not stopped) and runs
/// every op; signals the target receives meanwhile are passed on; at the end the thread detaches it and exits.
/// </summary>
internal sealed class PtraceThread : IDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(50), DetachWait = TimeSpan.FromSeconds(5);
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;
    private readonly uint _pid;

    private PtraceThread(uint pid)
    {
        _pid = pid;
        var seized = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        _thread = new Thread(() => Run(seized)) { IsBackground = true, Name = $"ptrace {pid}" };
        _thread.Start();
        var errno = seized.Task.GetAwaiter().GetResult();
        if (errno != 0)
        {
            _thread.Join();
            throw new DriverException(errno, "PTRACE_SEIZE", $"pid {pid}", detail: errno switch
            {
                Errno.ESRCH => "no such process",
                Errno.EPERM => TracedBy(pid) is { } tracer and not 0
                    ? $"it is already traced by pid {tracer}; KFD takes CRIU ops only from the one ptrace parent"
                    : "ptrace-attach rights are needed (same user and ptrace_scope, or CAP_SYS_PTRACE)",
                _ => null,
            });
        }
    }

    /// <summary>Seizes <paramref name="pid"/> from a new thread; throws <see cref="DriverException"/> when ptrace refuses.</summary>
    public static PtraceThread Seize(uint pid) => new(pid);

    /// <summary>Runs <paramref name="call"/> on the tracing thread and returns its result.</summary>
    public T Call<T>(Func<T> call)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            _work.Add(() =>
            {
                try
                {
                    done.SetResult(call());
                }
                catch (Exception e)
                {
                    done.SetException(e);
                }
            });
        }
        catch (InvalidOperationException)
        {
            throw new ObjectDisposedException(nameof(PtraceThread), $"the ptrace thread of pid {_pid} has ended");
        }
        return done.Task.GetAwaiter().GetResult();
    }

    private void Run(TaskCompletionSource<int> seized)
    {
        if (LinuxSyscalls.Ptrace(LinuxSyscalls.PtraceSeize, _pid) != 0)
        {
            seized.SetResult(LinuxSyscalls.LastErrno);
            return;
        }
        seized.SetResult(0);
        var tracing = true;
        while (!_work.IsCompleted)
        {
            if (_work.TryTake(out var work, Tick)) work();
            if (tracing) tracing = PassOnStops();
        }
        if (tracing) Detach();
    }

    /// <summary>
    /// PTRACE_DETACH needs the target in a ptrace stop: interrupt it and detach once it has stopped (passing on a
    /// signal it stopped for). The stop is awaited by retrying the detach, not by waiting for its status, which
    /// another thread of this process may reap first when the target is also its child. Done before Dispose returns,
    /// so the target can be seized again at once; should it never stop, the thread's exit detaches it.
    /// </summary>
    private void Detach()
    {
        if (LinuxSyscalls.Ptrace(LinuxSyscalls.PtraceInterrupt, _pid) != 0) return; // gone already
        var signal = 0;
        var deadline = Environment.TickCount64 + (long)DetachWait.TotalMilliseconds;
        while (Environment.TickCount64 < deadline)
        {
            var rc = LinuxSyscalls.WaitPid(_pid, out var status, LinuxSyscalls.WNoHang | LinuxSyscalls.WAll);
            if (rc > 0 && (status & 0x7f) != 0x7f) return; // exited: nothing to detach
            if (rc > 0 && (status >> 16) == 0) signal = (status >> 8) & 0xff;
            if (LinuxSyscalls.Ptrace(LinuxSyscalls.PtraceDetach, _pid, signal) == 0 || LinuxSyscalls.LastErrno != Errno.ESRCH) return;
            Thread.Sleep(1); // not stopped yet
        }
    }

    /// <summary>A seized target that stops for a signal waits for its tracer: let it go on as it would untraced.</summary>
    private bool PassOnStops()
    {
        while (true)
        {
            var rc = LinuxSyscalls.WaitPid(_pid, out var status, LinuxSyscalls.WNoHang | LinuxSyscalls.WAll);
            if (rc <= 0) return rc == 0;
            if ((status & 0x7f) != 0x7f) return false; // exited or killed: nothing is traced any more
            var signal = (status >> 8) & 0xff;
            var groupStop = (status >> 16) != 0;
            // A group stop stays a stop (LISTEN); a signal-delivery stop is resumed with its signal.
            if (groupStop) LinuxSyscalls.Ptrace(LinuxSyscalls.PtraceListen, _pid);
            else LinuxSyscalls.Ptrace(LinuxSyscalls.PtraceCont, _pid, signal);
        }
    }

    /// <summary>The TracerPid of a process's status file, or null when it cannot be read.</summary>
    private static uint? TracedBy(uint pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("TracerPid:", StringComparison.Ordinal) && uint.TryParse(line.AsSpan(10).Trim(), out var tracer))
                    return tracer;
        }
        catch (IOException)
        {
        }
        return null;
    }

    /// <summary>Detaches the target and ends the thread.</summary>
    public void Dispose()
    {
        _work.CompleteAdding();
        if (Thread.CurrentThread != _thread) _thread.Join();
    }
}
