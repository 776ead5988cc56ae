using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Engine.Copy;

/// <summary>
/// A BO's CPU mapping, opened by the first piece that needs it and closed when its last piece is done, so only the
/// BOs being copied are mapped. Safe to use from the several tasks of one BO at once.
/// </summary>
public sealed class LazyBoMapping : IDisposable
{
    private readonly Func<IBoMapping> _open;
    private readonly Lock _gate = new();
    private IBoMapping? _mapping;
    private int _uses;
    private bool _closed;

    /// <param name="uses">How many pieces will go through the mapping; the last <see cref="Done"/> closes it.</param>
    public LazyBoMapping(Func<IBoMapping> open, int uses)
    {
        _open = open;
        _uses = uses;
    }

    public IBoMapping Get()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            return _mapping ??= _open();
        }
    }

    /// <summary>One piece is finished with the mapping (copied, or given up); the last one closes it.</summary>
    public void Done()
    {
        if (Interlocked.Decrement(ref _uses) == 0) Dispose();
    }

    public void Dispose()
    {
        IBoMapping? mapping;
        lock (_gate)
        {
            if (_closed) return;
            _closed = true;
            mapping = _mapping;
            _mapping = null;
        }
        mapping?.Dispose();
    }
}
