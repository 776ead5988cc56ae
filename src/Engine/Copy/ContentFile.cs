namespace Gpuckpt.Engine.Copy;

/// <summary>A page file of the image and its length in bytes.</summary>
public sealed record ContentFile(string FileName, long Length);
