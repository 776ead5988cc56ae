namespace Gpuckpt.Engine.Devices;

/// <summary>
/// The buffers a process wrote since a tick of its driver's write clock, each by the inode of a dmabuf of it.
/// </summary>
/// <param name="Clock">The clock when the set was taken: the <c>since</c> of the next question.</param>
/// <param name="Buffers">The dmabuf inodes of the buffers written after <c>since</c>.</param>
/// <param name="Bytes">Their bytes.</param>
public sealed record DirtyWrites(ulong Clock, IReadOnlySet<ulong> Buffers, ulong Bytes);
