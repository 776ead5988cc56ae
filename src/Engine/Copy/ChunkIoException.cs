using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Engine.Copy;

/// <summary>A chunk's read or write failed with an errno, or wrote fewer bytes than asked (<see cref="ShortWrite"/>).</summary>
public sealed class ChunkIoException(int errno, string op, string detail)
    : IOException($"{op} failed: {(errno == ShortWrite ? "short write" : Errno.Name(errno))}: {detail}")
{
    /// <summary>Not an errno: the write returned fewer bytes than it was given.</summary>
    public const int ShortWrite = -1;

    /// <summary>Not an errno, and never thrown: an injected fault that hangs until its attempt is cancelled (<see cref="ChunkFaults.Strike"/>).</summary>
    public const int Stall = -2;

    public int ErrorNumber { get; } = errno;
}
