namespace Gpuckpt.Simulator;

/// <summary>
/// One BO of a <see cref="SimDirtySet"/>: its stable identity (as the digest names it), size, write clock, and when
/// asked for, a digest of its contents.
/// </summary>
public sealed record SimDirtyBo(string Bo, ulong Size, ulong WrittenAt, string? Digest = null);
