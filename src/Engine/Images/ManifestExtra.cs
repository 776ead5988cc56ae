namespace Gpuckpt.Engine.Images;

/// <summary>Keys of the manifest's free-form <c>extra</c> map that the engine writes and reads.</summary>
public static class ManifestExtra
{
    /// <summary>The chunk size the contents were written with: a restore reading the same chunks reads whole segments.</summary>
    public const string ChunkSize = "chunk-size";

    /// <summary>
    /// The BOs whose contents the GPU's copy engine (SDMA) moved, comma-separated keys (<c>kfd:GPU:BUCKET</c>,
    /// <c>render:NODE-IMAGE-ID:HANDLE</c>); every other BO with contents was read through a CPU mapping.
    /// </summary>
    public const string CopyEngineBos = "copy-engine-bos";
}
