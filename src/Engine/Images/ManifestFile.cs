namespace Gpuckpt.Engine.Images;

/// <summary>One file of an image: its size and a sorted, gap-free, non-overlapping cover of it by checksummed segments.</summary>
public sealed record ManifestFile(string Name, long Size, IReadOnlyList<Segment> Segments);
