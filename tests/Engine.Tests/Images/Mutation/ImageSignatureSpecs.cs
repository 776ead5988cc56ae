using System.Text.Json;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Trust;
using Gpuckpt.Engine.Restore;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images.Mutation;

/// <summary>
/// Authenticated images: a manifest signed with the node key (HMAC-SHA256 of each part, digest of every file) is
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
    public async Task Checkpoint_signs_and_restore_refuses_resealed_forgeries_before_creating_a_process_and_changed_contents_before_RESUME()
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
        var pristine = Path.Combine(_keyDir, "pristine");
        ImageForge.CopyDirectory(images, pristine);

        // A page file forged and its manifest resealed (checksums recomputed): the MACs refuse it before any process
        // exists, naming the file.
        var pages = ManifestCodec.Load(images).Files.First(f => ImageFileName.TryParse(f.Name)?.Kind == ImageFileKind.KfdPages).Name;
        var bytes = File.ReadAllBytes(Path.Combine(images, pages));
        bytes[8] ^= 1;
        ImageForge.RewriteFile(images, pages, bytes);
        var before = sim.Client.Spawn(WorkloadRequest.Named("tiny", 1));
        var refused = await GpuckptProcess.RunAsync(["restore", "--driver", $"sim:{sim.SocketPath}", "--images", images, "--state-dir", state, "--json"],
            env, TimeSpan.FromMinutes(3));
        var after = sim.Client.Spawn(WorkloadRequest.Named("tiny", 1));
        Assert.Equal(1, refused.ExitCode);
        Assert.True(refused.Stderr.Contains($"{pages}: contents changed after the image was signed"), refused.Stderr);
        Assert.Equal(before + 1, after);
        var verdict = JsonDocument.Parse((await GpuckptProcess.RunAsync(["verify", images, "--key", key, "--json"])).Stdout).RootElement.GetProperty("error");
        Assert.Equal(pages, verdict.GetProperty("file").GetString());

        // A page file changed under an untouched manifest: its contents are checked as the restore reads them, so the
        // process exists by then; it is refused before RESUME, naming the file and the offset, and the process is discarded.
        var changed = Path.Combine(_keyDir, "changed");
        ImageForge.CopyDirectory(pristine, changed);
        var changedBytes = File.ReadAllBytes(Path.Combine(changed, pages));
        changedBytes[^1] ^= 1;
        File.WriteAllBytes(Path.Combine(changed, pages), changedBytes);
        before = sim.Client.Spawn(WorkloadRequest.Named("tiny", 1));
        refused = await GpuckptProcess.RunAsync(["restore", "--driver", $"sim:{sim.SocketPath}", "--images", changed, "--state-dir", state, "--json"],
            env, TimeSpan.FromMinutes(3));
        after = sim.Client.Spawn(WorkloadRequest.Named("tiny", 1));
        Assert.Equal(1, refused.ExitCode);
        Assert.True(refused.Stderr.Contains($"{pages}: offset ") && refused.Stderr.Contains("checksum mismatch"), refused.Stderr);
        Assert.Equal(before + 2, after);
        Assert.Equal(Errno.ESRCH, Assert.Throws<DriverException>(() => sim.Client.State(before + 1)).ErrorNumber);

        // A metadata file forged: refused before any process exists.
        var forgedKfd = Path.Combine(_keyDir, "forged-kfd");
        ImageForge.CopyDirectory(pristine, forgedKfd);
        var kfd = ManifestCodec.Load(forgedKfd).Files.First(f => ImageFileName.TryParse(f.Name)?.Kind == ImageFileKind.Kfd).Name;
        var kfdBytes = File.ReadAllBytes(Path.Combine(forgedKfd, kfd));
        kfdBytes[^1] ^= 1;
        ImageForge.RewriteFile(forgedKfd, kfd, kfdBytes);
        before = sim.Client.Spawn(WorkloadRequest.Named("tiny", 1));
        refused = await GpuckptProcess.RunAsync(["restore", "--driver", $"sim:{sim.SocketPath}", "--images", forgedKfd, "--state-dir", state, "--json"],
            env, TimeSpan.FromMinutes(3));
        after = sim.Client.Spawn(WorkloadRequest.Named("tiny", 1));
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"{kfd}:", refused.Stderr);
        Assert.Equal(before + 1, after);

        // The pristine image restores, and runs on like its source.
        var restored = await GpuckptProcess.RunAsync(["restore", "--driver", $"sim:{sim.SocketPath}", "--images", pristine, "--state-dir", state, "--json"],
            env, TimeSpan.FromMinutes(3));
        Assert.True(restored.ExitCode == 0, restored.ToString());
        var restoredPid = JsonDocument.Parse(restored.Stdout).RootElement.GetProperty("pid").GetUInt32();
        sim.Client.Run(pid, 5);
        sim.Client.Run(restoredPid, 5);
        Assert.Equal(sim.Client.State(pid).Digest, sim.Client.State(restoredPid).Digest);
    }

    [Fact]
    public void A_manifest_and_KFD_file_replaced_after_the_check_are_not_the_ones_a_restore_builds_on()
    {
        var dir = image.Copy(signed: true);
        var trust = new ImageTrust(image.Key, Sign: false, Require: true);
        var checkedResult = ImageVerifier.VerifyAllButContents(dir, trust, out _, out var accepted);
        Assert.True(checkedResult.Ok, checkedResult.Describe());
        var kfdFile = ImageFileName.Kfd(Engine.Checkpoint.ImageIds.Kfd);
        var original = Engine.Images.Proto.CriuKfd.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(dir, kfdFile)).AsSpan(LengthPrefix.Size));

        // Between the check and the restore, the KFD file is replaced by a well-formed one with a BO less, and the
        // manifest resealed to match it (its xxHash64s fixed; its signature no longer holds, and nothing checks it again).
        var forged = original.Clone();
        forged.BoEntries.RemoveAt(forged.BoEntries.Count - 1);
        forged.NumOfBos = (uint)forged.BoEntries.Count;
        ImageForge.RewriteFile(dir, kfdFile, ImageForge.WithPrefix(Google.Protobuf.MessageExtensions.ToByteArray(forged)));
        Assert.Equal(forged.NumOfBos, ImageReader.Open(dir).Read(kfdFile, Engine.Images.Proto.CriuKfd.Parser).NumOfBos);

        var reader = ImageReader.Open(dir, accepted!);
        Assert.Equal(original, reader.Read(kfdFile, Engine.Images.Proto.CriuKfd.Parser));
        Assert.Equal(original.BoEntries.Count, LoadedImage.Load(reader).Kfd.BoEntries.Count);
        Assert.NotEqual(ManifestCodec.Load(dir).FindFile(kfdFile)!.Size, reader.Manifest.FindFile(kfdFile)!.Size);
    }

    [Fact]
    public void A_signed_restore_checks_each_page_files_signed_digest_against_the_bytes_it_read()
    {
        var trust = new ImageTrust(image.Key, Sign: false, Require: true);
        var plan = RestorePlan.Prepare(image.SignedDirectory, image.LocalGpus, trust);
        var pageFiles = ManifestCodec.Load(image.SignedDirectory).Files.Where(f => ImageFileName.Parse(f.Name).Kind.IsPages()).ToList();
        Assert.Equal(pageFiles.Select(f => f.Name).Order(), plan.PendingDigests.Keys.Order());
        var read = pageFiles.Select(f => plan.Image.Reader.OpenPages(f.Name)).ToList();
        try
        {
            var buffer = new byte[1 << 20];
            foreach (var pages in read)
            {
                pages.RecordDigests();
                for (long at = 0; at < pages.Length; at += buffer.Length)
                    pages.ReadVerified(at, buffer.AsSpan(0, (int)Math.Min(buffer.Length, pages.Length - at)));
            }
            plan.CheckPendingDigests(read);
            // What the reads recorded is the file's digest, as a whole read of it finds.
            foreach (var pages in read)
                Assert.Equal(FileDigest.Read(image.SignedDirectory, pageFiles.Single(f => f.Name == pages.FileName), ImageManifest.CurrentFormatVersion), pages.Digest());

            // Bytes that kept every xxHash64 but are not the ones signed (a collision): their digest is not the signed one.
            var name = plan.PendingDigests.Keys.Order().Last();
            var forged = plan with { PendingDigests = new Dictionary<string, string>(plan.PendingDigests) { [name] = new string('0', 64) } };
            var e = Assert.Throws<ImageException>(() => forged.CheckPendingDigests(read));
            Assert.Equal(name, e.File);
            Assert.StartsWith("contents changed after the image was signed", e.Reason);
        }
        finally
        {
            foreach (var pages in read) pages.Dispose();
        }
    }

    [Fact]
    public void An_image_an_older_build_signed_whole_file_by_file_still_verifies_and_its_forgery_is_refused()
    {
        var key = ImageKey.LoadOrCreate(Path.Combine(_keyDir, "image.key"));
        var trust = new ImageTrust(key, Sign: true, Require: true);
        var dir = SignedAsFormat1(key);
        Assert.Equal(1, ManifestCodec.Load(dir).FormatVersion);
        Assert.True(ImageVerifier.Verify(dir, trust: trust).Ok, ImageVerifier.Verify(dir, trust: trust).Describe());

        var pages = image.Files.First(f => ImageFileName.TryParse(f)?.Kind == ImageFileKind.KfdPages);
        var bytes = File.ReadAllBytes(Path.Combine(dir, pages));
        bytes[LengthPrefix.Size + new Random(TestSeed.Fresh()).Next(bytes.Length - LengthPrefix.Size)] ^= 0x01;
        ImageForge.RewriteFile(dir, pages, bytes);
        Assert.True(ImageVerifier.Verify(dir).Ok, "without a key the forgery passes every checksum");
        var forged = ImageVerifier.Verify(dir, trust: trust);
        Assert.Equal(pages, forged.File);
        Assert.StartsWith("contents changed after the image was signed", forged.Reason);
        // Its segment digests would not match either: the whole-file SHA-256 is what a format 1 signature holds.
        Assert.NotEqual(FileDigest.Read(dir, ManifestCodec.Load(dir).FindFile(pages)!, ImageManifest.CurrentFormatVersion),
            ManifestCodec.Load(dir).Signature!.Files[pages]);
    }

    [Fact]
    public void An_image_an_older_build_signed_with_SHA_256_leaves_still_verifies_and_its_forgery_is_refused()
    {
        var key = ImageKey.LoadOrCreate(Path.Combine(_keyDir, "image.key"));
        var trust = new ImageTrust(key, Sign: true, Require: true);
        var dir = image.Copy();
        var manifest = ManifestCodec.Load(dir) with { FormatVersion = 2 };
        ManifestCodec.Store(dir, manifest with { Signature = ImageSignature.Sign(manifest, FileDigest.ReadAll(dir, manifest), key) });
        Assert.True(ImageVerifier.Verify(dir, trust: trust).Ok, ImageVerifier.Verify(dir, trust: trust).Describe());

        var pages = image.Files.First(f => ImageFileName.TryParse(f)?.Kind == ImageFileKind.KfdPages);
        // What format 2 signed is the SHA-256 of each leaf: read as this build writes (BLAKE3 leaves), the digest differs.
        Assert.NotEqual(FileDigest.Read(dir, manifest.FindFile(pages)!, ImageManifest.CurrentFormatVersion), ManifestCodec.Load(dir).Signature!.Files[pages]);
        var bytes = File.ReadAllBytes(Path.Combine(dir, pages));
        bytes[LengthPrefix.Size + new Random(TestSeed.Fresh()).Next(bytes.Length - LengthPrefix.Size)] ^= 0x01;
        ImageForge.RewriteFile(dir, pages, bytes);
        var forged = ImageVerifier.Verify(dir, trust: trust);
        Assert.Equal(pages, forged.File);
        Assert.StartsWith("contents changed after the image was signed", forged.Reason);
    }

    [Fact]
    public void A_migration_target_names_a_source_of_another_image_format_rather_than_changed_bytes()
    {
        var cluster = ClusterAuthority.Create(Path.Combine(_keyDir, "cluster"));
        var dir = image.Copy();
        var copy = ManifestCodec.Load(dir);
        // A source of the build before hashed its leaves with SHA-256 (format 2); this node hashes what it received as format 3.
        var older = FileDigest.ReadAll(dir, copy with { FormatVersion = 2 });
        var seal = SourceSeal.Sign(copy.ImageId, older, copy.Links, cluster.IdentityFor("a"));
        var received = FileDigest.Current(dir, copy);

        var refusal = seal.Check(cluster, copy.ImageId, received, copy.Links);
        Assert.Contains("the bytes received differ from those the source signed", refusal);
        var named = seal.OlderFormat(cluster, dir, copy, copy.Links);
        Assert.StartsWith("the bytes received are the ones a signed, but it hashed them as image format 2", named);
        Assert.Contains("different versions of gpuckpt", named);

        // Bytes that differ in every format are not explained away: the refusal stands.
        var pages = image.Files.First(f => ImageFileName.TryParse(f)?.Kind == ImageFileKind.KfdPages);
        var bytes = File.ReadAllBytes(Path.Combine(dir, pages));
        bytes[LengthPrefix.Size + new Random(TestSeed.Fresh()).Next(bytes.Length - LengthPrefix.Size)] ^= 0x01;
        ImageForge.RewriteFile(dir, pages, bytes);
        Assert.Null(seal.OlderFormat(cluster, dir, ManifestCodec.Load(dir), copy.Links));
        // Nor is a seal that does not hold.
        var stranger = ClusterAuthority.Create(Path.Combine(_keyDir, "stranger"));
        Assert.Null(SourceSeal.Sign(copy.ImageId, older, copy.Links, stranger.IdentityFor("a")).OlderFormat(cluster, image.Copy(), copy, copy.Links));
    }

    /// <summary>A copy of the real image signed with <paramref name="key"/>, as a signing engine commits it (each file's digest read back).</summary>
    private string Signed(ImageKey key)
    {
        var dir = image.Copy();
        var manifest = ManifestCodec.Load(dir);
        ManifestCodec.Store(dir, manifest with { Signature = ImageSignature.Sign(manifest, FileDigest.ReadAll(dir, manifest), key) });
        return dir;
    }

    /// <summary>A copy of the real image as format 1 signed it: the SHA-256 of each whole file, computed here from its bytes.</summary>
    private string SignedAsFormat1(ImageKey key)
    {
        var dir = image.Copy();
        var manifest = ManifestCodec.Load(dir) with { FormatVersion = 1 };
        var hashes = manifest.Files.ToDictionary(f => f.Name, f => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, f.Name)))));
        ManifestCodec.Store(dir, manifest with { Signature = ImageSignature.Sign(manifest, hashes, key) });
        return dir;
    }
}
