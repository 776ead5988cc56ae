namespace Gpuckpt.Simulator;

/// <summary>
/// One BO of a <see cref="SimDirtySet"/>: its stable identity (as the digest names it), size, write clock, and when
/// asked for, a digest of its contents.
/// </summary>
/// <param name="Buffer">The memory's identity, which is also the inode of any dmabuf of it (what a checkpoint knows a BO by).</param>
public sealed record SimDirtyBo(string Bo, ulong Size, ulong WrittenAt, string? Digest = null, ulong Buffer = 0);
