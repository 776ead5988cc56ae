namespace Gpuckpt.Engine.Images;

/// <summary>Where an image came from: the driver it was taken through (e.g. <c>sim:/run/sim.sock</c>, <c>kfd</c>) and the process.</summary>
public sealed record ImageSource(string Driver, int Pid, string? Host = null);
