namespace Gpuckpt.Host.Resident;

/// <summary>
/// The signals a resident engine's client passes on while its job runs (its Ctrl-C or SIGTERM), and its going away
/// before the answer, which counts as SIGHUP: the job is stopped as the command's own engine would stop it. The first
/// one counts; a handler set after it came is called at once.
/// </summary>
public sealed class ClientSignals
{
    /// <summary>What a client that goes away before its answer counts as.</summary>
    public const string Gone = "SIGHUP";

    private readonly object _gate = new();
    private Action<string>? _handler;

    public string? Signal { get; private set; }

    public void Raise(string signal)
    {
        Action<string>? handler;
        lock (_gate)
        {
            if (Signal is not null) return;
            Signal = signal;
            handler = _handler;
        }
        handler?.Invoke(signal);
    }

    /// <summary>Calls <paramref name="handler"/> on the signal (at once if it already came) until the result is disposed.</summary>
    public IDisposable On(Action<string> handler)
    {
        string? already;
        lock (_gate)
        {
            _handler = handler;
            already = Signal;
        }
        if (already is not null) handler(already);
        return new Off(this);
    }

    private sealed class Off(ClientSignals signals) : IDisposable
    {
        public void Dispose()
        {
            lock (signals._gate) signals._handler = null;
        }
    }
}
