using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Simulator;

/// <summary>
/// The simulator's memory file as a client holds it open. Writes to a tmpfs file hold its inode lock, so they run one
/// at a time whatever the threads; they take <see cref="Writes"/> first, and a writer that waits sleeps here instead of
/// spinning in the kernel on the cores the copy needs (100 000 small BOs are 100 000 writes). Reads need no lock.
/// </summary>
internal sealed class MemoryFileHandle(SafeFileHandle handle)
{
    public SafeFileHandle Handle { get; } = handle;

    public Lock Writes { get; } = new();
}
