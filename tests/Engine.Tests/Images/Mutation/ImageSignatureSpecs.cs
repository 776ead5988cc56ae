using System.Text.Json;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images.Mutation;

/// <summary>
/// Authenticated images: a manifest signed with the node key (HMAC-SHA256 of each part, SHA-256 of every file) is
/// checked before a restore; a forgery that fixed every checksum is refused naming what changed; an unsigned image
/// is refused where signatures are required; a key file others can read is refused.
/// </summary>
public sealed class ImageSignatureSpecs(RealImage image) : IClassFixture<RealImage>
{
    private readonly string _keyDir = Directory.CreateTempSubdirectory("gpuckpt-key-").FullName;

    [Fact]
    public void A_signed_image_verifies_with_its_key_and_a_forged_one_is_refused_naming_what_changed()
    {
        var key = ImageKey.LoadOrCreate(Path.Combine(_keyDir, "image.key"));
        var trust = new ImageTrust(key, Sign: true, Require: true);
        var dir = Signed(key);
        Assert.True(ImageVerifier.Verify(dir, trust: trust).Ok);

        // Contents rewritten and resealed: only the signature tells.
        var pages = image.Files.First(f => ImageFileName.TryParse(f)?.Kind == ImageFileKind.KfdPages);
        var bytes = File.ReadAllBytes(Path.Combine(dir, pages));
        bytes[^1] ^= 0x5a;
        ImageForge.RewriteFile(dir, pages, bytes);
        Assert.True(ImageVerifier.Verify(dir).Ok, "without a key the forgery passes every checksum");
        var forged = ImageVerifier.Verify(dir, trust: trust);
        Assert.Equal(pages, forged.File);
        Assert.StartsWith("contents changed after the image was signed", forged.Reason);

        // A manifest part edited and resealed.
        var topology = Signed(key);
        ImageForge.Reseal(topology, m => m["extra"]!["forged"] = "yes");
        Assert.Equal("manifest.json: extra changed after the image was signed (signature mismatch)", ImageVerifier.Verify(topology, trust: trust).Describe());
    }

    [Fact]
    public void Another_nodes_key_and_an_unsigned_image_are_refused_where_signatures_are_required()
    {
        var mine = ImageKey.LoadOrCreate(Path.Combine(_keyDir, "mine.key"));
        var theirs = ImageKey.LoadOrCreate(Path.Combine(_keyDir, "theirs.key"));
        var signed = Signed(theirs);
        var other = ImageVerifier.Verify(signed, trust: new ImageTrust(mine, false, true));
        Assert.Equal($"manifest.json: signed with key {theirs.Id}, this engine checks with key {mine.Id}", other.Describe());

        var unsigned = image.Copy();
        Assert.Equal("manifest.json: not signed, and this engine accepts only signed images", ImageVerifier.Verify(unsigned, trust: new ImageTrust(mine, false, true)).Describe());
        Assert.True(ImageVerifier.Verify(unsigned, trust: new ImageTrust(mine, true, false)).Ok, "signing is opt-in: unsigned images pass where they are not required");
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_key_file_others_can_read_is_refused_and_a_new_one_is_made_0600()
    {
        var path = Path.Combine(_keyDir, "made.key");
        ImageKey.LoadOrCreate(path);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var e = Assert.Throws<InvalidDataException>(() => ImageKey.Load(path));
        Assert.Contains("readable by others (mode 0644)", e.Message);
    }

    [Fact]
    public async Task Checkpoint_signs_and_restore_refuses_a_forgery_before_creating_a_process()
    {
        using var sim = new TestSimulator();
        var state = Path.Combine(_keyDir, "state");
        var env = new Dictionary<string, string> { ["GPUCKPT_SIGN_IMAGES"] = "1", ["GPUCKPT_REQUIRE_SIGNED_IMAGES"] = "1" };
        var pid = sim.Client.Spawn(WorkloadRequest.Named("tiny", 12));
        var images = Path.Combine(_keyDir, "img");
        var done = await GpuckptProcess.RunAsync(["checkpoint", "--driver", $"sim:{sim.SocketPath}", "--pid", $"{pid}", "--images", images,
            "--leave-running", "--state-dir", state], env, TimeSpan.FromMinutes(3));
        Assert.True(done.ExitCode == 0, done.ToString());
        Assert.NotNull(ManifestCodec.Load(images).Signature);
        var key = Path.Combine(state, "image.key");
        Assert.Equal(0, (await GpuckptProcess.RunAsync(["verify", images, "--key", key])).ExitCode);

        var pages = ManifestCodec.Load(images).Files.First(f => ImageFileName.TryParse(f.Name)?.Kind == ImageFileKind.KfdPages).Name;
        var bytes = File.ReadAllBytes(Path.Combine(images, pages));
        bytes[8] ^= 1;
        ImageForge.RewriteFile(images, pages, bytes);
        var before = sim.Client.Spawn(WorkloadRequest.Named("tiny", 1));
        var refused = await GpuckptProcess.RunAsync(["restore", "--driver", $"sim:{sim.SocketPath}", "--images", images, "--state-dir", state, "--json"],
            env, TimeSpan.FromMinutes(3));
        var after = sim.Client.Spawn(WorkloadRequest.Named("tiny", 1));
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"{pages}: contents changed after the image was signed", refused.Stderr);
        Assert.Equal(before + 1, after);
        var verdict = JsonDocument.Parse((await GpuckptProcess.RunAsync(["verify", images, "--key", key, "--json"])).Stdout).RootElement;
        Assert.Equal(pages, verdict.GetProperty("file").GetString());
    }

    /// <summary>A copy of the real image signed with <paramref name="key"/>, as a signing engine commits it.</summary>
    private string Signed(ImageKey key)
    {
        var dir = image.Copy();
        var manifest = ManifestCodec.Load(dir);
        var hashes = manifest.Files.ToDictionary(f => f.Name, f => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, f.Name)))));
        ManifestCodec.Store(dir, manifest with { Signature = ImageSignature.Sign(manifest, hashes, key) });
        return dir;
    }
}
