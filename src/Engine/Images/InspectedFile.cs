namespace Gpuckpt.Engine.Images;

public sealed record InspectedFile(string Name, string Kind, long Size, int Segments, bool Present);
