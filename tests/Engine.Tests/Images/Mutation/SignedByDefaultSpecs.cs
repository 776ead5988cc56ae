using System.Text.Json;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images.Mutation;

/// <summary>
/// Plain `gpuckpt checkpoint` signs its image with the engine's key (image.key in the state directory, made on first
/// use), and `verify` and `restore` require that signature by default: a forger who changes a file's bytes and
/// recomputes its checksums is refused naming the file, before any process exists. An image signed by another engine
/// needs a visible choice, `--trust-key FILE` or `--allow-unsigned`.
/// </summary>
public sealed class SignedByDefaultSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-signed-");
    private readonly TestSimulator _sim = new(gpus: 2, idSeed: 23);

    public void Dispose()
    {
        _sim.Dispose();
        _dir.Delete(recursive: true);
    }

    private string Dir(string name) => Path.Combine(_dir.FullName, name);

    [Fact]
    public async Task A_forged_file_with_recomputed_checksums_is_refused_by_verify_and_restore_naming_it()
    {
        var seed = (ulong)TestSeed.Fresh();
        var because = $"seed {seed}";
        var image = await Checkpoint(seed, "image", "state");
        var signed = ManifestCodec.Load(image).Signature;
        Assert.NotNull(signed);
        Assert.Equal(ImageKey.Load(Path.Combine(Dir("state"), "image.key")).Id, signed.KeyId);
        var ok = await Gpuckpt("verify", image, "--state-dir", Dir("state"));
        Assert.True(ok.ExitCode == 0, $"{because}: {ok}");
        Assert.Contains($"signed with key {signed.KeyId}", ok.Stdout);

        // One byte of BO contents changed, and the file's checksum recomputed: every checksum agrees.
        var name = ManifestCodec.Load(image).Files.Select(f => f.Name).First(n => ImageFileName.TryParse(n)?.Kind == ImageFileKind.KfdPages);
        var bytes = File.ReadAllBytes(Path.Combine(image, name));
        bytes[LengthPrefix.Size + bytes.Length / 3] ^= 0x40;
        ImageForge.RewriteFile(image, name, bytes);
        Assert.True(ImageVerifier.Verify(image).Ok, "the forgery passes every checksum");

        var verify = await Gpuckpt("verify", image, "--state-dir", Dir("state"));
        Assert.Equal(1, verify.ExitCode);
        Assert.StartsWith($"gpuckpt: {name}: contents changed after the image was signed", verify.Stderr);

        var before = _sim.Client.Spawn(WorkloadRequest.Named("tiny", 1));
        var restore = await Gpuckpt("restore", "--driver", Driver, "--images", image, "--state-dir", Dir("state"));
        var after = _sim.Client.Spawn(WorkloadRequest.Named("tiny", 1));
        Assert.True(restore.ExitCode == 1, $"{because}: {restore}");
        Assert.Contains($"{name}: contents changed after the image was signed", restore.Stderr);
        Assert.True(after == before + 1, $"{because}: a process was created in between (pids {before} then {after})");
    }

    [Fact]
    public async Task An_image_signed_by_another_engine_restores_only_with_its_key_or_an_explicit_allow_unsigned()
    {
        var seed = (ulong)TestSeed.Fresh();
        var because = $"seed {seed}";
        var image = await Checkpoint(seed, "image", "state-a");
        var source = (uint)ManifestCodec.Load(image).Source.Pid;
        await Checkpoint(seed + 1, "other", "state-b"); // engine b has a key of its own

        var refused = await Gpuckpt("restore", "--driver", Driver, "--images", image, "--state-dir", Dir("state-b"));
        Assert.True(refused.ExitCode == 1, $"{because}: {refused}");
        Assert.Contains("manifest.json: signed with key", refused.Stderr);
        Assert.Contains("--trust-key FILE", refused.Stderr);
        var verify = await Gpuckpt("verify", image, "--state-dir", Dir("state-b"));
        Assert.Equal(1, verify.ExitCode);
        Assert.Contains("--allow-unsigned", verify.Stderr);

        var both = await Gpuckpt("restore", "--driver", Driver, "--images", image, "--state-dir", Dir("state-b"),
            "--trust-key", Path.Combine(Dir("state-a"), "image.key"), "--allow-unsigned");
        Assert.Equal(2, both.ExitCode);

        var restored = new List<uint>();
        foreach (var choice in new[] { new[] { "--trust-key", Path.Combine(Dir("state-a"), "image.key") }, ["--allow-unsigned"] })
        {
            var restore = await Gpuckpt(["restore", "--driver", Driver, "--images", image, "--state-dir", Dir("state-b"), "--json", .. choice]);
            Assert.True(restore.ExitCode == 0, $"{because}: restore {string.Join(' ', choice)}: {restore}");
            restored.Add(JsonDocument.Parse(restore.Stdout).RootElement.GetProperty("pid").GetUInt32());
        }
        var continued = _sim.Client.Run(source, 2);
        foreach (var pid in restored)
        {
            Assert.Equal(continued, _sim.Client.Run(pid, 2));
            Assert.True(_sim.Client.State(source).Digest == _sim.Client.State(pid).Digest, $"{because}: restored pid {pid} continued differently");
        }
    }

    private string Driver => $"sim:{_sim.SocketPath}";

    private async Task<string> Checkpoint(ulong seed, string images, string state)
    {
        var pid = _sim.Client.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: 4UL << 20));
        _sim.Client.Run(pid, 2);
        var run = await Gpuckpt("checkpoint", "--driver", Driver, "--pid", $"{pid}", "--images", Dir(images), "--leave-running", "--state-dir", Dir(state));
        Assert.True(run.ExitCode == 0, $"seed {seed}: checkpoint: {run}");
        return Dir(images);
    }

    private static Task<GpuckptProcess.Result> Gpuckpt(params string[] args) => GpuckptProcess.RunAsync(args, timeout: Timeout);
}
