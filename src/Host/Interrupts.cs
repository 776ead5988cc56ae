using System.Runtime.InteropServices;

namespace Gpuckpt.Host;

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM while a command runs a job: the first one is handed to the command (which stops its job
/// cleanly and exits 130 or 143); a second one ends the process at once, which the journal survives as it survives a kill.
/// </summary>
public sealed class Interrupts : IDisposable
{
    private readonly PosixSignalRegistration _int, _term;
    private readonly Action<string> _onFirst;
    private int _count;

    public Interrupts(Action<string> onFirst)
    {
        _onFirst = onFirst;
        _int = PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle);
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle);
    }

    /// <summary>The first signal received ("SIGINT" or "SIGTERM"), or null.</summary>
    public string? Signal { get; private set; }

    /// <summary>The exit code the first signal calls for: 128 + its number.</summary>
    public int ExitCode => Signal == "SIGTERM" ? Cli.ExitTerminated : Cli.ExitInterrupted;

    private void Handle(PosixSignalContext context)
    {
        if (Interlocked.Increment(ref _count) > 1) return; // the second one takes its default course: the process ends
        context.Cancel = true;
        Signal = context.Signal == PosixSignal.SIGTERM ? "SIGTERM" : "SIGINT";
        _onFirst(Signal);
    }

    public void Dispose()
    {
        _int.Dispose();
        _term.Dispose();
    }
}
