using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Tests.Support;

namespace Gpuckpt.Engine.Tests.Images.Mutation;

/// <summary>
/// One image taken by `gpuckpt checkpoint` of a `train` process (two GPUs, KFD and render BOs, imports) on an
/// in-process simulator, shared by the mutation specs; the simulator stays up so that restores can be tried.
/// </summary>
public sealed class RealImage : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"gpuckpt-mut-{Guid.NewGuid():N}");
    private readonly TestSimulator _sim = new(gpus: 2, idSeed: 5);

    public RealImage()
    {
        System.IO.Directory.CreateDirectory(_root);
        Directory = Path.Combine(_root, "pristine");
        var pid = _sim.Client.Spawn(WorkloadRequest.Named("train", 77, sizeBytes: 3UL << 20));
        _sim.Client.Run(pid, 2);
        var r = GpuckptProcess.RunAsync(["checkpoint", "--driver", Driver, "--pid", pid.ToString(), "--images", Directory,
            "--leave-running", "--state-dir", Path.Combine(_root, "state")], timeout: TimeSpan.FromMinutes(3)).GetAwaiter().GetResult();
        if (r.ExitCode != 0) throw new InvalidOperationException($"checkpoint for the mutation specs failed: {r}");
        // As an engine that signs nothing commits it: the forgeries below test the checks that hold without a key.
        ManifestCodec.Store(Directory, ManifestCodec.Load(Directory) with { Signature = null });
        var verified = ImageVerifier.Verify(Directory);
        if (!verified.Ok) throw new InvalidOperationException($"the pristine image does not verify: {verified.Describe()}");
        LocalGpus = _sim.Client.Topology();
        Files = [.. ManifestCodec.Load(Directory).Files.Select(f => f.Name), ImageManifest.FileName];

        // The same image as a signing engine commits it.
        Key = ImageKey.LoadOrCreate(Path.Combine(_root, "image.key"));
        SignedDirectory = Path.Combine(_root, "signed");
        ImageForge.CopyDirectory(Directory, SignedDirectory);
        var manifest = ManifestCodec.Load(SignedDirectory);
        ManifestCodec.Store(SignedDirectory, manifest with { Signature = ImageSignature.Sign(manifest, FileDigest.ReadAll(SignedDirectory, manifest), Key) });
    }

    /// <summary>The image signed with <see cref="Key"/>; never modified.</summary>
    public string SignedDirectory { get; }

    public ImageKey Key { get; }

    /// <summary>The committed image, unsigned; never modified (each case works on a copy).</summary>
    public string Directory { get; }

    public string Driver => $"sim:{_sim.SocketPath}";
    public SimulatorClient Client => _sim.Client;
    public IReadOnlyList<GpuNode> LocalGpus { get; }

    /// <summary>Every file of the image, manifest.json last.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>A fresh copy of the image to damage.</summary>
    public string Copy(bool signed = false)
    {
        var dir = Path.Combine(_root, Guid.NewGuid().ToString("N"));
        ImageForge.CopyDirectory(signed ? SignedDirectory : Directory, dir);
        return dir;
    }

    public void Dispose()
    {
        _sim.Dispose();
        if (System.IO.Directory.Exists(_root)) System.IO.Directory.Delete(_root, recursive: true);
    }
}
