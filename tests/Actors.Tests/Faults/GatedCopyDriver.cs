using Gpuckpt.Engine.Devices;
using Gpuckpt.Tests.Support;

namespace Gpuckpt.Actors.Tests.Faults;

/// <summary>
/// A driver whose BO reads pass freely <paramref name="passing"/> times, then wait at a gate that lets through as many
/// more as the test <see cref="Allow"/>s, or all once it is <see cref="Open"/>: a checkpoint provably in the middle of its
/// copy, for as long as the test needs (no slow copy and no luck). Everything else goes straight to <paramref name="inner"/>.
/// </summary>
internal sealed class GatedCopyDriver(IGpuDriver inner, int passing) : ForwardingDriver(inner)
{
    private readonly object _gate = new();
    private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _allowance = passing;
    private bool _open;

    /// <summary>Completes when a read first waits at the gate.</summary>
    public Task Held => _held.Task;

    /// <summary>Lets <paramref name="reads"/> more reads through, then holds the rest again.</summary>
    public void Allow(int reads)
    {
        lock (_gate)
        {
            _allowance += reads;
            Monitor.PulseAll(_gate);
        }
    }

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
        new GatedMapping(Inner.MapBo(renderMinor, mmapOffset, size, writable), this);

    /// <summary>Opens the gate: a test that fails never leaves a copy thread waiting.</summary>
    public override void Dispose() => Open();

    private sealed class GatedMapping(IBoMapping mapping, GatedCopyDriver driver) : IBoMapping
    {
        public ulong Size => mapping.Size;

        public void Read(ulong offset, Span<byte> destination)
        {
            driver.Pass();
            mapping.Read(offset, destination);
        }

        public void Write(ulong offset, ReadOnlySpan<byte> source) => mapping.Write(offset, source);

        public void Dispose() => mapping.Dispose();
    }
}
