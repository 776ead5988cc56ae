using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Engine.Copy;

/// <summary>
/// A BO's CPU mapping, opened by the first piece that needs it and closed when its last piece is done, so only the
/// BOs being copied are mapped. Safe to use from the several tasks of one BO at once. A task that uses it takes a
/// <see cref="Hold"/> first: closing waits for the last hold, so a stopping copy never unmaps memory a task still touches.
/// </summary>
public sealed class LazyBoMapping : IDisposable
{
    private readonly Func<IBoMapping> _open;
    private readonly Lock _gate = new();
    private IBoMapping? _mapping;
    private int _uses;
    private int _holds;
    private bool _closing;
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
            // Once closing, a held task may finish with the open mapping, but nothing opens it again.
            ObjectDisposedException.ThrowIf(_closed || (_closing && _mapping is null), this);
            return _mapping ??= _open();
        }
    }

    /// <summary>One piece is finished with the mapping (copied, or given up); the last one closes it.</summary>
    public void Done()
    {
        if (Interlocked.Decrement(ref _uses) == 0) Dispose();
    }

    /// <summary>A task's use of the mapping; null once it is closing (the task then must not touch it).</summary>
    public IDisposable? Hold()
    {
        lock (_gate)
        {
            if (_closing) return null;
            _holds++;
            return new MappingHold(this);
        }
    }

    /// <summary>Closes the mapping now, or when the last hold is let go.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _closing = true;
            if (_holds > 0) return;
        }
        Close();
    }

    private void Release()
    {
        lock (_gate)
        {
            if (--_holds > 0 || !_closing) return;
        }
        Close();
    }

    private void Close()
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

    private sealed class MappingHold(LazyBoMapping owner) : IDisposable
    {
        private LazyBoMapping? _owner = owner;

        public void Dispose() => Interlocked.Exchange(ref _owner, null)?.Release();
    }
}
