using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Engine.Checkpoint;

/// <summary>Fds the engine received from a driver and keeps until a copy is done; disposing closes each once.</summary>
public sealed class HeldFds(IGpuDriver driver, IReadOnlyList<int> fds) : IDisposable
{
    private int _closed;

    public IReadOnlyList<int> Fds { get; } = fds;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0 && Fds.Count > 0) driver.CloseFds(Fds);
    }
}
