namespace Gpuckpt.Simulator.Model;

/// <summary>
/// A lock taken in arrival order. The driver's calls hold it one at a time; a long call (a run of many steps) lets go
/// between slices, and FIFO order means every client waiting meanwhile gets its turn before the long call goes on
/// (a plain Monitor lets the releasing thread barge back in ahead of the waiters).
/// </summary>
internal sealed class FairLock
{
    private readonly object _gate = new();
    private long _next, _serving;

    public Turn Enter()
    {
        lock (_gate)
        {
            var ticket = _next++;
            while (ticket != _serving) Monitor.Wait(_gate);
        }
        return new Turn(this);
    }

    private void Exit()
    {
        lock (_gate)
        {
            _serving++;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Held until disposed.</summary>
    public readonly struct Turn(FairLock owner) : IDisposable
    {
        public void Dispose() => owner.Exit();
    }
}
