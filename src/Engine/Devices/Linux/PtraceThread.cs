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
    /// <summary>The target's threads this thread holds stopped, each with the signal it stopped for (given back when released).</summary>
    private readonly Dictionary<uint, int> _frozen = new();

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

    /// <summary>
    /// Stops every thread of the target (seizes each and interrupts it, until no new thread appears) so that nothing on
    /// the CPU side writes a BO or submits work while the GPU is captured; <see cref="Dispose"/> releases them, once.
    /// </summary>
    public void Freeze() => Call(() =>
    {
        FreezeAll();
        return true;
    });

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
            // A frozen target stays stopped: a signal meanwhile waits for the release.
            if (tracing && _frozen.Count == 0) tracing = PassOnStops();
        }
        if (_frozen.Count > 0) Release();
        else if (tracing) Detach();
    }

    private void FreezeAll()
    {
        for (var added = true; added;)
        {
            added = false;
            foreach (var tid in Threads())
            {
                if (_frozen.ContainsKey(tid)) continue;
                if (tid != _pid && LinuxSyscalls.Ptrace(LinuxSyscalls.PtraceSeize, tid) != 0)
                {
                    var errno = LinuxSyscalls.LastErrno;
                    if (errno == Errno.ESRCH) continue; // the thread ended meanwhile
                    throw new DriverException(errno, "PTRACE_SEIZE", $"thread {tid} of pid {_pid}", detail: "freezing the CPU side for the capture");
                }
                if (LinuxSyscalls.Ptrace(LinuxSyscalls.PtraceInterrupt, tid) != 0)
                {
                    var errno = LinuxSyscalls.LastErrno;
                    if (errno == Errno.ESRCH) continue;
                    throw new DriverException(errno, "PTRACE_INTERRUPT", $"thread {tid} of pid {_pid}", detail: "freezing the CPU side for the capture");
                }
                if (WaitStopped(tid) is { } signal) _frozen[tid] = signal;
                added = true;
            }
        }
    }

    /// <summary>Waits until <paramref name="tid"/> is in a ptrace stop; the signal it stopped for (0 for the interrupt), or null when it ended.</summary>
    private int? WaitStopped(uint tid)
    {
        var deadline = Environment.TickCount64 + (long)DetachWait.TotalMilliseconds;
        while (true)
        {
            var rc = LinuxSyscalls.WaitPid(tid, out var status, LinuxSyscalls.WNoHang | LinuxSyscalls.WAll);
            if (rc > 0 && (status & 0x7f) != 0x7f) return null; // exited
            // A signal-delivery stop holds its signal until the release; an event stop (the interrupt, a group stop) none.
            if (rc > 0) return (status >> 16) == 0 ? (status >> 8) & 0xff : 0;
            if (rc < 0 && LinuxSyscalls.LastErrno != Errno.ECHILD)
                throw new DriverException(LinuxSyscalls.LastErrno, "waitpid", $"thread {tid} of pid {_pid}");
            // Another thread of this process may have reaped the stop first (the target is its child): ask /proc.
            switch (StateOf(tid))
            {
                case 't':
                    return 0;
                case null:
                    return null;
            }
            if (Environment.TickCount64 > deadline)
                throw new DriverException(Errno.ETIMEDOUT, "PTRACE_INTERRUPT", $"thread {tid} of pid {_pid}",
                    detail: $"it did not stop within {DetachWait.TotalSeconds:0} s (an uninterruptible wait?)");
            Thread.Sleep(1);
        }
    }

    /// <summary>The state letter of a thread (/proc/PID/task/TID/stat), or null when it is gone.</summary>
    private char? StateOf(uint tid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{_pid}/task/{tid}/stat");
            var end = stat.LastIndexOf(')');
            return end >= 0 && end + 2 < stat.Length ? stat[end + 2] : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Detaches every frozen thread with the signal it stopped for: each runs on as it would have.</summary>
    private void Release()
    {
        foreach (var (tid, signal) in _frozen)
            LinuxSyscalls.Ptrace(LinuxSyscalls.PtraceDetach, tid, signal); // ESRCH: the thread ended; nothing holds it
        _frozen.Clear();
    }

    private IEnumerable<uint> Threads()
    {
        IEnumerable<string> tasks;
        try
        {
            tasks = Directory.EnumerateDirectories($"/proc/{_pid}/task").ToList();
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
        // The lead thread first: KFD checks the ptrace parent of the lead thread.
        return tasks.Select(t => uint.TryParse(Path.GetFileName(t), out var tid) ? tid : 0).Where(t => t != 0).OrderBy(t => t != _pid);
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
