namespace Gpuckpt.Engine.Copy;

/// <summary>A piece of one BO inside a chunk: BO bytes [BoOffset, BoOffset+Length) go to chunk bytes [ChunkOffset, ...).</summary>
public readonly record struct BoPiece(int BoIndex, ulong BoOffset, int Length, int ChunkOffset);
