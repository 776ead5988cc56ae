namespace Gpuckpt.Engine.Images;

/// <summary>Keys of the manifest's free-form <c>extra</c> map that the engine writes and reads.</summary>
public static class ManifestExtra
{
    /// <summary>The chunk size the contents were written with: a restore reading the same chunks reads whole segments.</summary>
    public const string ChunkSize = "chunk-size";
}
