using Gpuckpt.Actors.Copy;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Restore;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Uapi;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Copy;

/// <summary>The engine as the user drew it: a supervisor per process, device actors under it, an actor per BO under those.</summary>
public class ActorTreeSpecs(ITestOutputHelper output) : EngineSpec(output, "gpuckpt.copy.publish-actor-tree = on")
{
    [Fact]
    public async Task A_train_checkpoint_and_its_restore_run_as_supervisor_device_actors_and_BO_actors()
    {
        using var source = new SimNode(gpus: 2);
        using var target = new SimNode(gpus: 2, idSeed: 5);
        using var images = new TempDir();
        var pid = source.Client.Spawn(WorkloadRequest.Named("train", 12, sizeBytes: 24UL << 20));
        var started = CreateTestProbe();
        Sys.EventStream.Subscribe(started.Ref, typeof(ActorStartedAt));

        await Checkpoint(source.Client, pid, images.Path, leaveRunning: true);
        var checkpointTree = Drain(started);
        var restored = await Restore(target.Client, images.Path);
        var restoreTree = Drain(started);

        Print("checkpoint", checkpointTree);
        Print("restore", restoreTree);
        var image = LoadedImage.Load(ImageReader.Open(images.Path));
        var kfdBos = image.Kfd.BoEntries.Select((b, i) => (b, i)).Where(x => ((KfdAllocFlags)x.b.AllocFlags).HasContents())
            .GroupBy(x => x.b.GpuId).ToDictionary(g => $"GPU-0x{g.Key:x}", g => g.Select(x => $"bo-{x.i}").ToHashSet());

        // Checkpoint: the job; a device actor per GPU and render node; under a GPU, an actor for each of its BOs with contents.
        var job = Assert.Single(checkpointTree, p => Depth(p) == 3);
        Assert.StartsWith("ckpt-", Name(job));
        foreach (var (gpu, bos) in kfdBos)
            Assert.Equal(bos, Children(checkpointTree, $"{job}/{gpu}"));
        // Under a render node, an actor for each BO with a drm-pages file (its own contents, or an import's).
        foreach (var node in image.RenderNodes)
        {
            var withContents = image.Reader.Manifest.Files.Select(f => ImageFileName.TryParse(f.Name))
                .Where(f => f?.Kind == ImageFileKind.DrmPages && f.Id == (int)node.Id)
                .Select(f => $"bo-{node.BoEntries[f!.BoIndex].Handle}").ToHashSet();
            if (withContents.Count > 0) Assert.Equal(withContents, Children(checkpointTree, $"{job}/renderD{node.DrmRenderMinor}"));
        }

        // Restore: under each local render node, an actor for every render BO, imports included (they restore in passes).
        var restoreJob = Assert.Single(restoreTree, p => Depth(p) == 3);
        Assert.StartsWith("rest-", Name(restoreJob));
        foreach (var (gpu, bos) in kfdBos)
            Assert.Equal(bos, Children(restoreTree, $"{restoreJob}/{gpu}"));
        var plan = RestorePlan.Prepare(images.Path, target.Client.Topology());
        foreach (var node in image.RenderNodes)
            Assert.Equal(node.BoEntries.Select(e => $"bo-{e.Handle}").ToHashSet(),
                Children(restoreTree, $"{restoreJob}/renderD{plan.Map[node.GpuId].DrmRenderMinor}"));
        Assert.Equal(1, target.Client.State(restored.Pid).Counters.Resume);
    }

    private static List<string> Drain(Akka.TestKit.TestProbe probe)
    {
        var paths = new List<string>();
        while (probe.HasMessages) paths.Add(probe.ExpectMsg<ActorStartedAt>(TimeSpan.Zero).Path);
        return paths;
    }

    private static int Depth(string path) => path.Count(c => c == '/');

    private static string Name(string path) => path[(path.LastIndexOf('/') + 1)..];

    private static HashSet<string> Children(IEnumerable<string> paths, string parent) =>
        paths.Where(p => p.StartsWith(parent + "/", StringComparison.Ordinal) && Depth(p) == Depth(parent) + 1).Select(Name).ToHashSet();

    private void Print(string title, IReadOnlyList<string> paths)
    {
        Out.WriteLine($"actor tree of the {title} ({paths.Count} actors):");
        foreach (var path in paths.Order(StringComparer.Ordinal))
            Out.WriteLine($"{new string(' ', 2 * (Depth(path) - 3))}{Name(path)}");
    }
}
