using System.Text.Json;
using Gpuckpt.Actors.Copy;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests;

public class RestoreSpecs(ITestOutputHelper output) : EngineSpec(output)
{
    private const ulong StepsBefore = 3, StepsAfter = 4;

    public static TheoryData<string, ulong> Workloads => new()
    {
        { "tiny", 21 },
        { "train", 22 },
        { "spec", 23 },
        { "spec", 24 },
    };

    [Theory]
    [MemberData(nameof(Workloads))]
    public async Task A_restored_process_continues_exactly_like_the_original_on_renumbered_GPUs(string workload, ulong seed)
    {
        using var source = new SimNode(gpus: 3, idSeed: 0);
        using var target = new SimNode(gpus: 3, idSeed: 7);
        await ContinuationHolds(source, target, Request(workload, seed), seed);
    }

    [Fact]
    public async Task A_restored_process_continues_exactly_like_the_original_on_the_same_node()
    {
        using var node = new SimNode(gpus: 2);
        await ContinuationHolds(node, node, Request("train", 31), 31);
    }

    [Fact]
    public async Task Imports_whose_exporter_is_restored_later_take_more_than_one_pass()
    {
        using var source = new SimNode(gpus: 2);
        using var target = new SimNode(gpus: 2, idSeed: 3);
        // GPU0's render node (restored first) imports a BO that GPU1's render node exports.
        var spec = """
            {"gpus":2,
             "kfd_bos":[{"gpu":0,"domain":"vram","size":65536},{"gpu":1,"domain":"gtt","size":16384}],
             "render_bos":[{"gpu":1,"domain":"vram","size":32768,"mappings":[{"offset":0,"size":32768}]},
                           {"gpu":0,"import":"render:0","mappings":[{"offset":0,"size":8192},{"offset":8192,"size":4096}]}],
             "links":[{"target":"kfd:0","inputs":["render:1"]},{"target":"render:0","inputs":["kfd:1"]}]}
            """;
        var passes = CreateTestProbe();
        Sys.EventStream.Subscribe(passes.Ref, typeof(RenderBoPassed));

        var summary = await ContinuationHolds(source, target, new WorkloadRequest(null, 41, SpecJson: spec), 41);

        Assert.Equal(2, summary.RenderPasses);
        var answers = new List<RenderBoPassed>();
        while (passes.HasMessages) answers.Add(passes.ExpectMsg<RenderBoPassed>(TimeSpan.Zero));
        foreach (var a in answers) Out.WriteLine($"pass {a.Pass}: {a.Actor}: {(a.Restored ? "restored" : $"skipped, waits for {a.WaitsFor}")} ({a.Bo})");
        // The import waits out pass 1 (its exporter, on a node visited after its own, does not exist yet) and its BO actor
        // restores it in pass 2; every other BO is restored in pass 1, and none is skipped or done twice.
        Assert.DoesNotContain(answers, a => !a.Restored);
        Assert.Equal(2, answers.Count);
        var import = answers.Where(a => a.Pass == 2).Select(a => a.Actor).Single();
        Assert.All(answers.Where(a => a.Actor != import), a => Assert.Equal((1, true), (a.Pass, a.Restored)));
    }

    [Fact]
    public async Task A_restore_reads_each_content_byte_of_the_image_once()
    {
        using var node = new SimNode(gpus: 2);
        using var images = new TempDir();
        var pid = node.Client.Spawn(WorkloadRequest.Named("train", 71, sizeBytes: 16UL << 20));
        await Checkpoint(node.Client, pid, images.Path, leaveRunning: true);

        var restored = await Restore(node.Client, images.Path);

        Out.WriteLine($"content bytes {restored.Bytes}, read {restored.ContentBytesRead} (x{restored.ReadsPerContentByte:F4}); metadata read {restored.MetadataBytesRead}");
        // train's contents are random, so no chunk was a hole skipped unread: every byte read once. A segment read with
        // O_DIRECT reads whole blocks, so the block at each of its ends, shared with a neighbour, counts too: less than
        // two blocks per segment beyond the contents.
        var segments = ImageReader.Open(images.Path).Manifest.Files
            .Where(f => ImageFileName.TryParse(f.Name)?.Kind.IsPages() == true).Sum(f => f.Segments.Count);
        Assert.InRange(restored.ContentBytesRead, restored.Bytes, restored.Bytes + segments * 2L * 4096 - 1);
        Assert.True(restored.MetadataBytesRead < restored.Bytes / 100, $"{restored.MetadataBytesRead} bytes of metadata read");
    }

    [Fact]
    public async Task Corrupted_metadata_is_refused_before_anything_is_created_on_the_device()
    {
        using var node = new SimNode(gpus: 2);
        using var images = new TempDir();
        var pid = node.Client.Spawn(WorkloadRequest.Named("tiny", 51));
        await Checkpoint(node.Client, pid, images.Path, leaveRunning: true);
        var kfd = Directory.GetFiles(images.Path, "amdgpu-kfd-*.img").Single();
        FlipBit(kfd, 8 + 3);
        var before = node.Client.Spawn(WorkloadRequest.Named("tiny", 52));

        Jobs(node.Client).Tell(new RestoreRequest(images.Path), TestActor);
        var failed = await ExpectMsgAsync<RestoreFailed>(JobTimeout);

        Assert.Contains(Path.GetFileName(kfd), failed.Reason);
        Assert.Contains("verify", failed.Reason);
        // Pids are handed out in order: the next one proves no restore target was ever created.
        Assert.Equal(before + 1, node.Client.Spawn(WorkloadRequest.Named("tiny", 53)));
    }

    [Fact]
    public async Task Corrupted_contents_roll_the_process_back_and_it_is_never_resumed()
    {
        using var node = new SimNode(gpus: 2);
        using var images = new TempDir();
        var pid = node.Client.Spawn(WorkloadRequest.Named("tiny", 54));
        await Checkpoint(node.Client, pid, images.Path, leaveRunning: true);
        var pages = Directory.GetFiles(images.Path, "amdgpu-pages-*.img").First();
        FlipBit(pages, 8 + 4100);
        var before = node.Client.Spawn(WorkloadRequest.Named("tiny", 55));

        // An engine told --allow-unsigned: nothing reads the image before the target exists, so the damage is found as
        // the contents are read (with signatures, the default, it is refused before: SignedByDefaultSpecs).
        Jobs(node.Client, Settings with { Trust = Engine.Images.ImageTrust.None }).Tell(new RestoreRequest(images.Path), TestActor);
        var failed = await ExpectMsgAsync<RestoreFailed>(JobTimeout);

        Out.WriteLine(failed.Reason);
        Assert.Contains(Path.GetFileName(pages), failed.Reason);
        Assert.Contains("checksum mismatch", failed.Reason);
        Assert.Contains("contents", failed.Reason);
        // The process built for the restore (the next pid) was discarded, never resumed.
        var error = Assert.Throws<Engine.Devices.DriverException>(() => node.Client.State(before + 1));
        Assert.Equal(Engine.Devices.Errno.ESRCH, error.ErrorNumber);
    }

    [Fact]
    public async Task A_copy_checked_moments_ago_restores_and_damage_since_the_check_is_still_refused()
    {
        using var node = new SimNode(gpus: 2);
        using var images = new TempDir();
        var pid = node.Client.Spawn(WorkloadRequest.Named("train", 56, sizeBytes: 16UL << 20));
        await Checkpoint(node.Client, pid, images.Path, leaveRunning: true);
        var manifest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(images.Path, ImageManifest.FileName))));

        // Checked: the signed image is not hashed whole again before the restore starts; its contents are checked as they stream.
        Jobs(node.Client).Tell(new RestoreCheckedCopy(new RestoreRequest(images.Path), manifest), TestActor);
        var restored = Assert.IsType<RestoreCompleted>(await ExpectMsgAsync<IRestoreMessage>(JobTimeout)).Summary;
        Assert.Equal(node.Client.State(pid).Digest, node.Client.State(restored.Pid).Digest);

        // A byte damaged since the check is found as the contents stream: the process is discarded, never resumed.
        var pages = Directory.GetFiles(images.Path, "amdgpu-pages-*.img").First();
        FlipBit(pages, 8 + 4100);
        var before = node.Client.Spawn(WorkloadRequest.Named("tiny", 57));
        Jobs(node.Client).Tell(new RestoreCheckedCopy(new RestoreRequest(images.Path), manifest), TestActor);
        var failed = await ExpectMsgAsync<RestoreFailed>(JobTimeout);
        Assert.Contains(Path.GetFileName(pages), failed.Reason);
        Assert.Contains("checksum mismatch", failed.Reason);
        var error = Assert.Throws<Engine.Devices.DriverException>(() => node.Client.State(before + 1));
        Assert.Equal(Engine.Devices.Errno.ESRCH, error.ErrorNumber);

        // Another manifest than the one checked: checked as any signed image is (its MACs and metadata before anything
        // exists, each page file's digest from the contents as they stream): the damage is refused before RESUME again.
        var other = before + 2;
        Jobs(node.Client).Tell(new RestoreCheckedCopy(new RestoreRequest(images.Path), new string('0', 64)), TestActor);
        failed = await ExpectMsgAsync<RestoreFailed>(JobTimeout);
        Assert.Contains(Path.GetFileName(pages), failed.Reason);
        Assert.Contains("checksum mismatch", failed.Reason);
        Assert.Equal(Engine.Devices.Errno.ESRCH, Assert.Throws<Engine.Devices.DriverException>(() => node.Client.State(other)).ErrorNumber);
        Assert.Equal(other + 1, node.Client.Spawn(WorkloadRequest.Named("tiny", 58)));
    }

    private static void FlipBit(string path, long offset)
    {
        using var file = File.Open(path, FileMode.Open, FileAccess.ReadWrite);
        file.Position = offset;
        var b = file.ReadByte();
        file.Position = offset;
        file.WriteByte((byte)(b ^ 0x20));
    }

    [Fact]
    public async Task A_target_without_enough_GPUs_is_refused_naming_the_GPU()
    {
        using var source = new SimNode(gpus: 2);
        using var target = new SimNode(gpus: 1, idSeed: 5);
        using var images = new TempDir();
        var pid = source.Client.Spawn(WorkloadRequest.Named("train", 61, sizeBytes: 8UL << 20));
        await Checkpoint(source.Client, pid, images.Path, leaveRunning: true);

        Jobs(target.Client).Tell(new RestoreRequest(images.Path), TestActor);
        var failed = await ExpectMsgAsync<RestoreFailed>(JobTimeout);

        Assert.Contains("image GPU 0x", failed.Reason);
    }

    private static WorkloadRequest Request(string workload, ulong seed) => workload switch
    {
        "spec" => new WorkloadRequest(null, seed, SpecJson: RandomSpec(seed)),
        "train" => WorkloadRequest.Named("train", seed, sizeBytes: 24UL << 20),
        _ => WorkloadRequest.Named(workload, seed),
    };

    /// <summary>spawn, run k, checkpoint (leave running), run m → D1; restore, run m → D2; D1 must equal D2.</summary>
    private async Task<RestoreSummary> ContinuationHolds(SimNode source, SimNode target, WorkloadRequest request, ulong seed)
    {
        using var images = new TempDir();
        var pid = source.Client.Spawn(request);
        source.Client.Run(pid, StepsBefore);
        var atCheckpoint = source.Client.State(pid).Digest;

        await Checkpoint(source.Client, pid, images.Path, leaveRunning: true);
        source.Client.Run(pid, StepsAfter);
        var d1 = source.Client.State(pid);

        var restored = await Restore(target.Client, images.Path);
        var copy = target.Client.State(restored.Pid);
        Assert.True(atCheckpoint == copy.Digest, $"seed {seed}: the restored process differs from the checkpointed one before running");
        Assert.Equal(1, copy.Counters.Resume);
        target.Client.Run(restored.Pid, StepsAfter);
        var d2 = target.Client.State(restored.Pid);

        Assert.True(d1.Digest == d2.Digest, $"seed {seed}: after {StepsAfter} more steps the original has {d1.Digest}, the restored copy {d2.Digest}");
        Assert.Equal(d1.Step, d2.Step);
        Assert.NotEqual(atCheckpoint, d1.Digest);
        return restored;
    }

    /// <summary>A random spec: 1–3 GPUs, KFD BOs of mixed domains and sizes, render BOs with mappings and imports.</summary>
    private static string RandomSpec(ulong seed)
    {
        var rng = new Random((int)seed);
        var gpus = rng.Next(1, 4);
        string[] domains = ["vram", "vram", "gtt", "userptr", "doorbell", "mmio"];
        var kfd = Enumerable.Range(0, rng.Next(3, 25)).Select(i => new
        {
            gpu = i < gpus ? i : rng.Next(gpus),
            domain = i < gpus ? "vram" : domains[rng.Next(domains.Length)],
            size = 4096UL * (ulong)rng.Next(1, rng.Next(2) == 0 ? 8 : 600),
        }).ToList();
        var render = new List<object>();
        for (var i = 0; i < rng.Next(1, 8); i++)
        {
            var gpu = rng.Next(gpus);
            if (i > 0 && rng.Next(3) == 0)
            {
                var exporter = rng.Next(gpus);
                var k = kfd.FindIndex(b => b.gpu == exporter && b.domain == "vram");
                render.Add(new { gpu, import = $"kfd:{k}", mappings = new[] { new { offset = 0UL, size = 4096UL } } });
                continue;
            }
            var pages = (ulong)rng.Next(2, 40);
            render.Add(new
            {
                gpu,
                domain = rng.Next(2) == 0 ? "vram" : "gtt",
                size = pages * 4096,
                mappings = new[] { new { offset = 0UL, size = 4096UL }, new { offset = 4096UL, size = (pages - 1) * 4096 } },
            });
        }
        return JsonSerializer.Serialize(new { gpus, kfd_bos = kfd, render_bos = render, priv_data_size = 4096 * rng.Next(1, 5) });
    }
}
