using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Simulator;

/// <summary>
/// A meeting point for copies, so that tests prove overlap by construction rather than by timing: the first reads
/// through mappings of the gated render nodes wait until every gated node has <see cref="ReadsPerNode"/> reads waiting
/// at once, then all go on and the gate stays open. A copier that cannot have that many reads in flight never opens
/// it: its reads fail with EIO after <see cref="Patience"/>, naming how many arrived where.
/// </summary>
public sealed class CopyRendezvous(IReadOnlyCollection<uint> renderMinors, int readsPerNode, TimeSpan patience)
{
    private readonly Dictionary<uint, int> _waiting = renderMinors.ToDictionary(m => m, _ => 0);
    private bool _open;

    public int ReadsPerNode { get; } = readsPerNode;
    public TimeSpan Patience { get; } = patience;

    /// <summary>Whether every gated node had its reads in flight at once.</summary>
    public bool Opened
    {
        get { lock (_waiting) return _open; }
    }

    internal bool Gates(uint minor) => _waiting.ContainsKey(minor);

    internal void Arrive(uint minor)
    {
        lock (_waiting)
        {
            if (_open) return;
            _waiting[minor]++;
            if (_waiting.Values.All(n => n >= ReadsPerNode))
            {
                _open = true;
                Monitor.PulseAll(_waiting);
                return;
            }
            var deadline = DateTime.UtcNow + Patience;
            while (!_open)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_waiting, left) && !_open)
                    throw new DriverException(Errno.EIO, "read", $"renderD{minor}",
                        detail: $"copy rendezvous not reached after {Patience}: reads waiting {Describe()}, {ReadsPerNode} needed on each node at once");
            }
        }
    }

    private string Describe() => string.Join(", ", _waiting.Select(w => $"renderD{w.Key}: {w.Value}"));
}

/// <summary>A mapping whose reads meet at a <see cref="CopyRendezvous"/> before they copy.</summary>
internal sealed class RendezvousBoMapping(IBoMapping inner, CopyRendezvous rendezvous, uint minor) : IBoMapping
{
    public ulong Size => inner.Size;

    public void Read(ulong offset, Span<byte> destination)
    {
        rendezvous.Arrive(minor);
        inner.Read(offset, destination);
    }

    public void Write(ulong offset, ReadOnlySpan<byte> source) => inner.Write(offset, source);

    public void Dispose() => inner.Dispose();
}
