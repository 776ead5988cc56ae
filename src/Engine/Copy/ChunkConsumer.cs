namespace Gpuckpt.Engine.Copy;

/// <summary>Hands over the bytes of a range in order, in pieces; <paramref name="at"/> counts from the range's start.</summary>
public delegate void ChunkConsumer(int at, ReadOnlySpan<byte> bytes);
