namespace Gpuckpt.Engine.Images;

public sealed record InspectedDmabuf(int Id, uint GemHandle, string File);
