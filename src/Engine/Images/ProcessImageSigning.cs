namespace Gpuckpt.Engine.Images;

/// <summary>
/// A node's own signature on a whole-process image it received: the GPU image's manifest is signed again with the
/// node's key (its node keys are HMAC secrets, never shared), and process.json is written again over it.
/// </summary>
public static class ProcessImageSigning
{
    /// <summary>Signs the GPU image of the whole-process image in <paramref name="dir"/> with <paramref name="key"/>; the caller verified it first.</summary>
    public static void SignAgain(string dir, ImageKey key)
    {
        var process = ProcessManifest.Load(dir);
        if (process.GpuImage is not { } gpu) return;
        var gpuDir = Path.Combine(dir, gpu);
        var manifest = ManifestCodec.Load(gpuDir);
        var hashes = FileDigest.ReadAll(gpuDir, manifest);
        ManifestCodec.Store(gpuDir, manifest with { Signature = ImageSignature.Sign(manifest, hashes, key) });
        ProcessManifest.Write(dir, process.Pid, process.CriuVersion, gpu);
    }
}
