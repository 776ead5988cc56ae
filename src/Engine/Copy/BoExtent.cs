namespace Gpuckpt.Engine.Copy;

/// <summary>One BO's contents as laid out in a page file: <paramref name="FileOffset"/> is where its bytes start.</summary>
public sealed record BoExtent(int BoIndex, ulong Size, long FileOffset);
