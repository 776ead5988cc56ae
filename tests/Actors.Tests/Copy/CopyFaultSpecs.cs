using Akka.Configuration;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Copy;

/// <summary>Supervision that means something: transient chunk faults are retried, lasting ones fail the job naming the BO.</summary>
public class CopyFaultSpecs(ITestOutputHelper output) : EngineSpec(output, "gpuckpt.copy.retry.first-backoff = 1ms")
{
    [Fact]
    public async Task A_transient_fault_on_one_chunk_is_retried_and_the_image_equals_an_undisturbed_one()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        using var node = new SimNode(gpus: 2);
        using var images = new TempDir();
        var pid = node.Client.Spawn(WorkloadRequest.Named("train", (ulong)seed, sizeBytes: 16UL << 20));
        node.Client.Run(pid, 2);
        var undisturbed = images.Sub("undisturbed");
        Assert.IsType<CheckpointCompleted>(await Run(node.Client, Settings, new CheckpointRequest(pid, undisturbed, LeaveRunning: true)));

        // One chunk of one page file, one side of its copy, one transient errno: drawn from the seed.
        var (device, chunks) = Devices(undisturbed)[random.Next(Devices(undisturbed).Count)];
        string[] errors = ["EIO", "EINTR", "EAGAIN", "short-write"];
        var fault = new ChunkFault(device, random.Next(chunks), random.Next(2) == 0 ? FaultSide.File : FaultSide.Bo,
            ChunkFaults.ParseError(errors[random.Next(errors.Length)]), Times: 1 + random.Next(Settings.Retry.MaxRetries));
        if (fault.ErrorNumber == ChunkIoException.ShortWrite) fault = fault with { Side = FaultSide.File };
        var faults = new ChunkFaults([fault]);
        var disturbed = images.Sub("disturbed");
        var reply = await Run(node.Client, Settings with { Faults = faults }, new CheckpointRequest(pid, disturbed, LeaveRunning: true));

        Assert.True(reply is CheckpointCompleted, $"seed {seed}, {fault}: {reply}");
        Assert.True(faults.Hits(fault) == fault.Times, $"seed {seed}, {fault}: the fault fired {faults.Hits(fault)} times");
        SameImage(undisturbed, disturbed, $"seed {seed}, {fault}");
        Assert.Equal(2, node.Client.State(pid).Counters.Unpause);
    }

    [Fact]
    public async Task A_lasting_fault_fails_the_job_naming_the_BO_chunk_and_errno_and_unpauses_once()
    {
        using var node = new SimNode(gpus: 1);
        using var images = new TempDir();
        // One BO of three chunks (256 KiB each in these specs), so the failed chunk holds that BO alone.
        const string spec = """{"gpus":1,"kfd_bos":[{"gpu":0,"domain":"gtt","size":8192},{"gpu":0,"domain":"vram","size":786432}]}""";
        var pid = node.Client.Spawn(new WorkloadRequest(null, 14, SpecJson: spec));
        var gpu = node.Client.Topology()[0].GpuId;
        var fault = new ChunkFault($"GPU 0x{gpu:x}", 2, FaultSide.File, Errno.EIO, Times: 1000);

        var reply = await Run(node.Client, Settings with { Faults = new ChunkFaults([fault]) }, new CheckpointRequest(pid, images.Path, LeaveRunning: false));

        var failed = Assert.IsType<CheckpointFailed>(reply);
        Out.WriteLine(failed.Reason);
        Assert.Contains($"KFD BO #1 (GPU 0x{gpu:x}, address 0x", failed.Reason);
        Assert.Contains("786432 bytes", failed.Reason);
        Assert.Contains("chunk 2 (", failed.Reason);
        Assert.Contains("EIO", failed.Reason);
        Assert.Contains($"after {Settings.Retry.MaxRetries + 1} attempts", failed.Reason);
        Assert.True(failed.Unpaused);
        var state = node.Client.State(pid);
        Assert.False(state.Paused);
        Assert.Equal(1, state.Counters.Unpause);
        Assert.Equal(ImageState.Failed, ManifestCodec.Load(images.Path).State);
    }

    [Fact]
    public async Task Bad_input_is_not_retried()
    {
        using var node = new SimNode(gpus: 1);
        using var images = new TempDir();
        var pid = node.Client.Spawn(WorkloadRequest.Named("tiny", 15));
        var fault = new ChunkFault($"GPU 0x{node.Client.Topology()[0].GpuId:x}", 0, FaultSide.Bo, Errno.EINVAL, Times: 1);
        var faults = new ChunkFaults([fault]);

        var failed = Assert.IsType<CheckpointFailed>(await Run(node.Client, Settings with { Faults = faults }, new CheckpointRequest(pid, images.Path, LeaveRunning: true)));

        Assert.Equal(1, faults.Hits(fault));
        Assert.Contains("EINVAL", failed.Reason);
        Assert.DoesNotContain("attempts", failed.Reason);
        Assert.Contains("KFD BO #", failed.Reason);
        Assert.Equal(1, node.Client.State(pid).Counters.Unpause);
    }

    [Fact]
    public async Task A_transient_fault_on_every_piece_of_one_BO_is_retried_and_the_image_equals_an_undisturbed_one()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        using var node = new SimNode(gpus: 1);
        using var images = new TempDir();
        var sizes = BoSizes(random);
        var pid = node.Client.Spawn(new WorkloadRequest(null, (ulong)seed, SpecJson: Spec(sizes)));
        node.Client.Run(pid, 2);
        var undisturbed = images.Sub("undisturbed");
        Assert.IsType<CheckpointCompleted>(await Run(node.Client, Settings, new CheckpointRequest(pid, undisturbed, LeaveRunning: true)));

        // One BO by the name errors give it, one side, one transient errno, struck on each of its chunks: drawn from the seed.
        var bo = random.Next(sizes.Length);
        var side = random.Next(2) == 0 ? "file" : "bo";
        string[] errors = side == "file" ? ["EIO", "EINTR", "EAGAIN", "short-write"] : ["EIO", "EINTR", "EAGAIN"];
        var error = errors[random.Next(errors.Length)];
        var times = 1 + random.Next(Settings.Retry.MaxRetries);
        var gpu = $"GPU 0x{node.Client.Topology()[0].GpuId:x}";
        var settings = WithFaults($"{{ device = \"{gpu}\", bo = \"KFD BO #{bo}\", side = {side}, error = {error}, times = {times} }}");
        var fault = Assert.Single(settings.Faults.Faults);
        var disturbed = images.Sub("disturbed");
        var reply = await Run(node.Client, settings, new CheckpointRequest(pid, disturbed, LeaveRunning: true));

        var what = $"seed {seed}, sizes [{string.Join(", ", sizes)}], {fault}";
        Assert.True(reply is CheckpointCompleted, $"{what}: {reply}");
        var chunks = ChunksOf(undisturbed, sizes, bo);
        Assert.True(settings.Faults.ChunksHit(fault) == chunks, $"{what}: the fault struck {settings.Faults.ChunksHit(fault)} chunks, the BO lies in {chunks}");
        Assert.True(settings.Faults.Hits(fault) == chunks * times, $"{what}: the fault fired {settings.Faults.Hits(fault)} times, {chunks} x {times} expected");
        SameImage(undisturbed, disturbed, what);
        Assert.Equal(2, node.Client.State(pid).Counters.Unpause);
    }

    [Fact]
    public async Task A_lasting_fault_on_one_BO_fails_the_job_naming_that_BO_and_unpauses_once()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        using var node = new SimNode(gpus: 1);
        using var images = new TempDir();
        var sizes = BoSizes(random);
        var pid = node.Client.Spawn(new WorkloadRequest(null, (ulong)seed, SpecJson: Spec(sizes)));
        // A BO with chunks of its own (larger than one chunk), so that every failing write and read is that BO's alone.
        var large = Enumerable.Range(0, sizes.Length).Where(i => sizes[i] > (ulong)Settings.ChunkSize).ToList();
        var bo = large[random.Next(large.Count)];
        var side = random.Next(2) == 0 ? "file" : "bo";
        var gpuId = node.Client.Topology()[0].GpuId;
        var settings = WithFaults($"{{ device = \"GPU 0x{gpuId:x}\", bo = \"KFD BO #{bo}\", side = {side}, error = EIO, times = 1000 }}");

        var reply = await Run(node.Client, settings, new CheckpointRequest(pid, images.Path, LeaveRunning: false));

        var what = $"seed {seed}, sizes [{string.Join(", ", sizes)}], {settings.Faults.Faults[0]}";
        var failed = Assert.IsType<CheckpointFailed>(reply);
        Out.WriteLine(failed.Reason);
        Assert.True(failed.Reason.Contains($"KFD BO #{bo} (GPU 0x{gpuId:x}, address 0x", StringComparison.Ordinal) && failed.Reason.Contains($"{sizes[bo]} bytes)", StringComparison.Ordinal),
            $"{what}: the reason does not name KFD BO #{bo}: {failed.Reason}");
        Assert.Contains("EIO", failed.Reason);
        Assert.Contains($"after {Settings.Retry.MaxRetries + 1} attempts", failed.Reason);
        Assert.True(failed.Unpaused);
        var state = node.Client.State(pid);
        Assert.False(state.Paused);
        Assert.Equal(1, state.Counters.Unpause);
        Assert.Equal(ImageState.Failed, ManifestCodec.Load(images.Path).State);
    }

    /// <summary>The spec's settings with gpuckpt.copy.faults set as a user would write it in HOCON.</summary>
    private EngineSettings WithFaults(string fault) =>
        EngineSettings.From(ConfigurationFactory.ParseString($"gpuckpt.copy.faults = [{fault}]").WithFallback(Sys.Settings.Config));

    /// <summary>Six to ten BOs of drawn page-multiple sizes: small ones that share chunks, and one to three larger than a chunk (the last always).</summary>
    private ulong[] BoSizes(Random random)
    {
        var sizes = Enumerable.Range(0, 6 + random.Next(5)).Select(_ => (ulong)(1 + random.Next(24)) * 4096).ToArray();
        foreach (var i in new[] { random.Next(sizes.Length), random.Next(sizes.Length), sizes.Length - 1 })
            sizes[i] = (ulong)Settings.ChunkSize + (ulong)(1 + random.Next(160)) * 4096;
        return sizes;
    }

    private static string Spec(ulong[] sizes) =>
        "{\"gpus\":1,\"kfd_bos\":[" + string.Join(",", sizes.Select((s, i) => $"{{\"gpu\":0,\"domain\":\"{(i % 2 == 0 ? "vram" : "gtt")}\",\"size\":{s}}}")) + "]}";

    /// <summary>How many chunks (segments of the page file after its prefix) hold bytes of BO <paramref name="bo"/>, the BOs lying back to back.</summary>
    private static int ChunksOf(string dir, ulong[] sizes, int bo)
    {
        var start = LengthPrefix.Size + sizes.Take(bo).Sum(s => (long)s);
        var end = start + (long)sizes[bo];
        var pages = Assert.Single(ManifestCodec.Load(dir).Files, f => ImageFileName.TryParse(f.Name)?.Kind == ImageFileKind.KfdPages);
        return pages.Segments.Skip(1).Count(s => s.Offset < end && start < s.End);
    }

    private async Task<ICheckpointMessage> Run(IGpuDriver driver, EngineSettings settings, CheckpointRequest request)
    {
        Sys.ActorOf(JobsActor.Props(driver, settings, Pool)).Tell(request, TestActor);
        return await ExpectMsgAsync<ICheckpointMessage>(JobTimeout);
    }

    /// <summary>Each KFD page file of the image as a device name and its number of chunks (segments after the prefix).</summary>
    private static List<(string Device, int Chunks)> Devices(string dir) =>
        [.. ManifestCodec.Load(dir).Files
            .Where(f => ImageFileName.TryParse(f.Name)?.Kind == ImageFileKind.KfdPages)
            .Select(f => ($"GPU 0x{ImageFileName.Parse(f.Name).GpuId:x}", f.Segments.Count - 1))];

    private static void SameImage(string expectedDir, string actualDir, string what)
    {
        var expected = ManifestCodec.Load(expectedDir);
        var actual = ManifestCodec.Load(actualDir);
        Assert.Equal(ImageState.Committed, actual.State);
        Assert.Equal(expected.Files.Select(f => f.Name), actual.Files.Select(f => f.Name));
        foreach (var (e, a) in expected.Files.Zip(actual.Files))
        {
            Assert.True(e.Segments.SequenceEqual(a.Segments), $"{what}: {a.Name} has other segments or checksums");
            Assert.True(File.ReadAllBytes(Path.Combine(expectedDir, e.Name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(actualDir, a.Name))),
                $"{what}: {a.Name} differs from the undisturbed image");
        }
    }
}
