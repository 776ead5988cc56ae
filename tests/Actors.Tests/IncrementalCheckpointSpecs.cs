using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests;

/// <summary>
/// Incremental images on the `serve` workload: a checkpoint with a parent writes only the chunks that changed, and a
/// restore through the chain (parent of a parent too) continues exactly as the uninterrupted process does; a chain
/// whose parent is missing or altered is refused before any process is created, naming the file.
/// </summary>
public class IncrementalCheckpointSpecs(ITestOutputHelper output) : EngineSpec(output)
{
    private const ulong Size = 32UL << 20;

    [Fact]
    public async Task A_chain_of_three_writes_only_what_changed_and_restores_equal_to_the_uninterrupted_process()
    {
        using var source = new SimNode(gpus: 1);
        using var target = new SimNode(gpus: 1, idSeed: 7);
        using var root = new TempDir();
        const ulong seed = 301;
        var pid = source.Client.Spawn(WorkloadRequest.Named("serve", seed, sizeBytes: Size));
        source.Client.Run(pid, 3);
        await Checkpoint(pid, source, root.Sub("A"), parent: null);
        source.Client.Run(pid, 4);
        var atB = source.Client.State(pid).Digest;
        await Checkpoint(pid, source, root.Sub("B"), parent: "../A");
        source.Client.Run(pid, 2);
        var atC = source.Client.State(pid).Digest;
        await Checkpoint(pid, source, root.Sub("C"), parent: "../B");
        const ulong k = 5;
        source.Client.Run(pid, k);
        var twin = source.Client.State(pid);

        var a = ManifestCodec.Load(root.Sub("A"));
        var b = ManifestCodec.Load(root.Sub("B"));
        var c = ManifestCodec.Load(root.Sub("C"));
        Assert.Null(a.Parent);
        // A whole image's manifest reads as it did before images had parents.
        var aText = File.ReadAllText(Path.Combine(root.Sub("A"), ImageManifest.FileName));
        Assert.DoesNotContain("\"parent\"", aText);
        Assert.DoesNotContain("in_parent", aText);
        Assert.Equal((b.Parent!.Path, b.Parent.ImageId), ("../A", a.ImageId));
        Assert.Equal((c.Parent!.Path, c.Parent.ImageId), ("../B", b.ImageId));
        var (aWritten, _) = PageBytes(a);
        var (bWritten, bReferenced) = PageBytes(b);
        var (cWritten, cReferenced) = PageBytes(c);
        Out.WriteLine($"seed {seed}: A writes {aWritten} page bytes; B writes {bWritten}, references {bReferenced}; C writes {cWritten}, references {cReferenced}");
        Assert.True(aWritten >= (long)Size * 9 / 10, $"seed {seed}: A wrote only {aWritten} bytes of a {Size}-byte process");
        Assert.True(bWritten > 0 && bWritten * 10 <= aWritten, $"seed {seed}: B wrote {bWritten} page bytes, A {aWritten}: not within 10%");
        Assert.True(cWritten > 0 && cWritten * 10 <= aWritten, $"seed {seed}: C wrote {cWritten} page bytes, A {aWritten}: not within 10%");
        Assert.Equal(aWritten, bWritten + bReferenced);
        Assert.Equal(aWritten, cWritten + cReferenced);
        // The page files on disk hold only what was written: referenced chunks are holes.
        Assert.True(Allocated(root.Sub("B")) * 10 <= Allocated(root.Sub("A")), "B's page files take more than 10% of A's disk blocks");
        var checkedBytes = new Dictionary<string, long>();
        foreach (var dir in new[] { "A", "B", "C" })
        {
            var verified = ImageVerifier.Verify(root.Sub(dir), trust: Settings.Trust);
            Assert.True(verified.Ok, $"{dir}: {verified.Describe()}");
            checkedBytes[dir] = verified.BytesChecked;
        }
        // Verify reads each byte of the chain where it is: an image's own bytes, then its parent's.
        long Own(ImageManifest m) => m.Files.SelectMany(f => f.Segments).Where(s => !s.InParent).Sum(s => s.Length);
        Assert.Equal(checkedBytes["A"] + Own(b), checkedBytes["B"]);
        Assert.Equal(checkedBytes["B"] + Own(c), checkedBytes["C"]);

        var fromC = await Restore(target.Client, root.Sub("C"));
        Assert.Equal(atC, target.Client.State(fromC.Pid).Digest);
        target.Client.Run(fromC.Pid, k);
        Assert.Equal(twin.Digest, target.Client.State(fromC.Pid).Digest);

        var fromB = await Restore(target.Client, root.Sub("B"));
        Assert.Equal(atB, target.Client.State(fromB.Pid).Digest);
        target.Client.Run(fromB.Pid, 2 + k);
        var continued = target.Client.State(fromB.Pid);
        Assert.Equal(twin.Digest, continued.Digest);
        Assert.Equal(twin.Step, continued.Step);
    }

    [Fact]
    public async Task A_chain_with_a_missing_or_altered_parent_is_refused_before_any_process_is_created()
    {
        using var node = new SimNode(gpus: 1);
        using var root = new TempDir();
        const ulong seed = 302;
        var pid = node.Client.Spawn(WorkloadRequest.Named("serve", seed, sizeBytes: Size));
        node.Client.Run(pid, 2);
        await Checkpoint(pid, node, root.Sub("chain/A"), parent: null);
        node.Client.Run(pid, 3);
        await Checkpoint(pid, node, root.Sub("chain/B"), parent: "../A");
        var other = node.Client.Spawn(WorkloadRequest.Named("serve", seed + 1, sizeBytes: Size));
        await Checkpoint(other, node, root.Sub("other"), parent: null);

        // The parent's directory is gone.
        var missing = Copy(root, "missing");
        Directory.Delete(Path.Combine(missing, "A"), recursive: true);
        await Refused(node, Path.Combine(missing, "B"), Path.Combine(missing, "A"), "missing");

        // One byte of a chunk B references is flipped in A.
        var flipped = Copy(root, "flipped");
        var b = ManifestCodec.Load(Path.Combine(flipped, "B"));
        var (file, segment) = b.Files.SelectMany(f => f.Segments.Where(s => s.InParent).Select(s => (f.Name, s))).Skip(1).First();
        var aFile = Path.Combine(flipped, "A", file);
        FlipByte(aFile, segment.Offset + segment.Length / 2);
        await Refused(node, Path.Combine(flipped, "B"), $"{aFile}: offset {segment.Offset}: checksum mismatch", null);
        // Unsigned too: the chain of an incremental image is verified before a restore touches a device, whatever the trust.
        await Refused(node, Path.Combine(flipped, "B"), $"{aFile}: offset {segment.Offset}: checksum mismatch", null, Settings with { Trust = ImageTrust.None });

        // B's record of its parent is rewritten to name a copy of A, and the manifest resealed: B's signature covers it.
        var moved = Copy(root, "moved");
        Directory.Move(Path.Combine(moved, "A"), Path.Combine(moved, "A2"));
        var resealed = ManifestCodec.Load(Path.Combine(moved, "B"));
        ManifestCodec.Store(Path.Combine(moved, "B"), resealed with { Parent = resealed.Parent! with { Path = "../A2" } });
        await Refused(node, Path.Combine(moved, "B"), "manifest.json: identity changed after the image was signed", null);

        // A's manifest is replaced by another image's.
        var replaced = Copy(root, "replaced");
        File.Copy(Path.Combine(root.Sub("other"), ImageManifest.FileName), Path.Combine(replaced, "A", ImageManifest.FileName), overwrite: true);
        await Refused(node, Path.Combine(replaced, "B"), Path.Combine(replaced, "A", ImageManifest.FileName), "not the parent this image was made from");
    }

    private async Task Refused(SimNode node, string dir, string names, string? reason, EngineSettings? settings = null)
    {
        settings ??= Settings;
        var verified = ImageVerifier.Verify(dir, trust: settings.Trust);
        Assert.False(verified.Ok);
        Assert.Contains(names, verified.Describe());
        if (reason is not null) Assert.Contains(reason, verified.Describe());
        var before = node.Client.Spawn(WorkloadRequest.Named("tiny", 1));
        Jobs(node.Client, settings).Tell(new RestoreRequest(dir), TestActor);
        var failed = await ExpectMsgAsync<RestoreFailed>(JobTimeout);
        Out.WriteLine(failed.Reason);
        Assert.Contains(names, failed.Reason);
        Assert.DoesNotContain('\n', failed.Reason);
        // Pids are handed out in order: the next one proves no restore target was ever created.
        Assert.Equal(before + 1, node.Client.Spawn(WorkloadRequest.Named("tiny", 2)));
    }

    private async Task Checkpoint(uint pid, SimNode node, string dir, string? parent)
    {
        Jobs(node.Client).Tell(new CheckpointRequest(pid, dir, LeaveRunning: true, Parent: parent), TestActor);
        var reply = await ExpectMsgAsync<ICheckpointMessage>(JobTimeout);
        if (reply is not CheckpointCompleted) throw new Xunit.Sdk.XunitException($"checkpoint of pid {pid} into {dir} failed: {reply}");
    }

    /// <summary>Page bytes an image wrote (zero pieces are holes and cost nothing either) and bytes it references in its parent.</summary>
    private static (long Written, long Referenced) PageBytes(ImageManifest m)
    {
        var segments = m.Files.Where(f => ImageFileName.Parse(f.Name).Kind.IsPages())
            .SelectMany(f => f.Segments.Where(s => s.Offset >= LengthPrefix.Size)).ToList();
        return (segments.Where(s => !s.InParent).Sum(s => s.Length), segments.Where(s => s.InParent).Sum(s => s.Length));
    }

    /// <summary>Bytes the page files of an image take on disk (`du`'s count: 512-byte blocks allocated).</summary>
    private static long Allocated(string dir)
    {
        var files = Directory.GetFiles(dir, "amdgpu-*pages-*.img");
        var du = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("du", ["-s", "-B1", .. files]) { RedirectStandardOutput = true })!;
        var text = du.StandardOutput.ReadToEnd();
        du.WaitForExit();
        Assert.Equal(0, du.ExitCode);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Sum(l => long.Parse(l.Split('\t')[0], System.Globalization.CultureInfo.InvariantCulture));
    }

    private static string Copy(TempDir root, string name)
    {
        var to = root.Sub(name);
        foreach (var dir in new[] { "A", "B" })
        {
            Directory.CreateDirectory(Path.Combine(to, dir));
            foreach (var f in Directory.GetFiles(root.Sub(Path.Combine("chain", dir))))
                File.Copy(f, Path.Combine(to, dir, Path.GetFileName(f)));
        }
        return to;
    }

    private static void FlipByte(string path, long offset)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        f.Position = offset;
        var b = f.ReadByte();
        f.Position = offset;
        f.WriteByte((byte)(b ^ 0x5a));
    }
}
