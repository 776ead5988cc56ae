namespace Gpuckpt.Engine.Images;

/// <summary>One of CRIU's image files as a whole-process manifest lists it.</summary>
public sealed record ProcessManifestFile(string Name, long Size, string Xxh64);
