using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Native;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;

namespace Gpuckpt.Actors.Tests.Copy;

/// <summary>
/// The simulator's driver with every BO mapped by mmap(2) of its memory file, as a render node maps a real BO: the
/// copy takes the mmap path (bytes moved straight between the mapping and the file). When <paramref name="gated"/>, a
/// use of a mapping (a read, or a whole chunk's prefetch) waits at a gate once <paramref name="passing"/> uses went
/// through, until the test <see cref="Open"/>s it: a copy provably in the middle of its I/O. Every use of a mapping
/// after it was unmapped, or an unmap while a read or a prefetch is under way (on a real mapping: a SIGSEGV, or bytes
/// of whatever is mapped there next), is counted in <see cref="UsesAfterUnmap"/>.
/// </summary>
internal sealed class MmapDriver(SimulatorClient sim, bool gated = false, int passing = 0) : ForwardingDriver(sim)
{
    private readonly object _gate = new();
    private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _allowance = passing;
    private bool _open = !gated;
    private int _usesAfterUnmap;

    /// <summary>Completes when a use first waits at the gate.</summary>
    public Task Held => _held.Task;

    public int UsesAfterUnmap => Volatile.Read(ref _usesAfterUnmap);

    public void Open()
    {
        lock (_gate)
        {
            _open = true;
            Monitor.PulseAll(_gate);
        }
    }

    private void Pass()
    {
        lock (_gate)
        {
            while (!_open && _allowance == 0)
            {
                _held.TrySetResult();
                Monitor.Wait(_gate);
            }
            if (!_open) _allowance--;
        }
    }

    public override IBoMapping MapBo(uint renderMinor, ulong mmapOffset, ulong size, bool writable) =>
        new Mapping(MmapBoMapping.Map(sim.MemoryFileOf(renderMinor, mmapOffset, size), mmapOffset, size, writable), this);

    /// <summary>Advisory: every BO is mapped from its memory file here.</summary>
    public override void PrepareMaps(IReadOnlyList<BoRange> bos) { }

    /// <summary>Opens the gate: a test that fails never leaves a copy thread waiting.</summary>
    public override void Dispose() => Open();

    private sealed class Mapping(MmapBoMapping inner, MmapDriver driver) : IBoMapping, IDirectBoMapping
    {
        private readonly object _gate = new();
        private int _using;
        private bool _unmapped;

        public ulong Size => inner.Size;

        public void Read(ulong offset, Span<byte> destination)
        {
            Begin(gate: true);
            try
            {
                inner.Read(offset, destination);
            }
            finally
            {
                End();
            }
        }

        public void Write(ulong offset, ReadOnlySpan<byte> source)
        {
            Begin(gate: false);
            try
            {
                inner.Write(offset, source);
            }
            finally
            {
                End();
            }
        }

        /// <summary>A whole chunk's use of the mapping: its prefetch (where it may wait at the gate), then its span.</summary>
        public void Prefetch(ulong offset, int length, bool write)
        {
            Begin(gate: true);
            try
            {
                inner.Prefetch(offset, length, write);
            }
            finally
            {
                End();
            }
        }

        public Span<byte> Span(ulong offset, int length)
        {
            Begin(gate: false);
            try
            {
                return inner.Span(offset, length);
            }
            finally
            {
                End();
            }
        }

        public void Release(ulong offset, int length) => inner.Release(offset, length);

        private void Begin(bool gate)
        {
            lock (_gate) _using++;
            if (gate) driver.Pass();
            lock (_gate)
                if (_unmapped) Interlocked.Increment(ref driver._usesAfterUnmap);
        }

        private void End()
        {
            lock (_gate) _using--;
        }

        public void Dispose()
        {
            lock (_gate)
            {
                _unmapped = true;
                if (_using > 0) Interlocked.Increment(ref driver._usesAfterUnmap);
            }
            inner.Dispose();
        }
    }
}
