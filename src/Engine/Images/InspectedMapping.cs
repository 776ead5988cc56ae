namespace Gpuckpt.Engine.Images;

public sealed record InspectedMapping(ulong Addr, ulong Size, ulong Offset, ulong Flags);
