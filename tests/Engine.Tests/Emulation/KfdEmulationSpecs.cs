using System.Text.Json;
using Gpuckpt.Emulator;
using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Engine.Tests.Uapi;
using Gpuckpt.Engine.Uapi;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Emulation;

/// <summary>
/// The real <c>--driver kfd</c> backend, unmodified (its open, ioctl, mmap, pidfd_getfd, ptrace), checkpointing a
/// simulated process through an emulated kernel: the image equals the simulator path's, and restores.
/// </summary>
public sealed class KfdEmulationSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-kfdemu-spec-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Dir(string name) => Path.Combine(_dir.FullName, name);

    internal static string[] Gpuckpt(params string[] args)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } p ? p : "dotnet";
        return [dotnet, Path.Combine(AppContext.BaseDirectory, "gpuckpt.dll"), .. args];
    }

    private static (int Rc, string Out, string Err) Sim(params string[] args)
    {
        var result = GpuckptProcess.RunAsync(args, timeout: Timeout).GetAwaiter().GetResult();
        return (result.ExitCode, result.Stdout, result.Stderr);
    }

    [Fact]
    public void A_kfd_checkpoint_of_train_through_the_emulated_kernel_equals_the_simulator_path_and_restores_to_the_same_continuation()
    {
        var seed = (ulong)TestSeed.Fresh();
        using var sim = new TestSimulator(gpus: 2, idSeed: 17);
        var pid = sim.Client.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: 96UL << 20));
        sim.Client.Run(pid, 3);
        var because = $"seed {seed}";

        using var kernel = new EmulatedKernel(sim.Server, new EmulatedKernelOptions { Targets = [("train", pid)], DupRenderFds = true });
        var run = kernel.Run(Gpuckpt("checkpoint", "--driver", "kfd", "--pid", "@train", "--images", Dir("kfd"), "--leave-running",
            "--json", "--state-dir", Dir("state-kfd")), Timeout);
        Assert.True(run.ExitCode == 0, $"{because}: checkpoint --driver kfd exited {run.ExitCode}: {run.Stderr}");
        var counters = sim.Client.State(pid).Counters;
        Assert.Equal((1, 1, 1), (counters.ProcessInfo, counters.Checkpoint, counters.Unpause));

        var (rc, _, err) = Sim("checkpoint", "--driver", $"sim:{sim.SocketPath}", "--pid", $"{pid}", "--images", Dir("sim"), "--leave-running",
            "--json", "--state-dir", Dir("state-sim"));
        Assert.True(rc == 0, $"{because}: checkpoint on the simulator path exited {rc}: {err}");

        // Every page file byte for byte, under the same names.
        var pages = Pages(Dir("sim"));
        Assert.Equal(pages, Pages(Dir("kfd")));
        Assert.Contains(pages, p => p.StartsWith("amdgpu-drm-pages-", StringComparison.Ordinal));
        foreach (var name in pages)
            Assert.True(File.ReadAllBytes(Path.Combine(Dir("sim"), name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(Dir("kfd"), name))),
                $"{because}: {name} differs between the kfd and the simulator path");
        // The render nodes' messages too; dup'ed fds of one file were one render node.
        var simReader = ImageReader.Open(Dir("sim"));
        var kfdReader = ImageReader.Open(Dir("kfd"));
        Assert.Equal(2, kfdReader.FilesOf(ImageFileKind.RenderNode).Count());
        foreach (var node in simReader.FilesOf(ImageFileKind.RenderNode))
            Assert.Equal(simReader.Read(node, CriuRenderNode.Parser), kfdReader.Read(node, CriuRenderNode.Parser));
        Assert.Equal(simReader.Read(ImageFileName.Kfd(1), CriuKfd.Parser).BoEntries, kfdReader.Read(ImageFileName.Kfd(1), CriuKfd.Parser).BoEntries);

        // Only mainline requests reached the kernel, the new render-node ones among them.
        Assert.All(run.Requests.Keys, r => Assert.Contains(AbiCatalog.Ioctls, v => v.Value == r && !AbiCatalog.IsProposal(v.Origin)));
        foreach (var wanted in new[] { KfdIoctls.GetVersion, KfdIoctls.CriuOp, DrmIoctls.AmdgpuGemListHandles, DrmIoctls.AmdgpuGemOp, DrmIoctls.AmdgpuGemMmap, DrmIoctls.PrimeHandleToFd })
            Assert.True(run.Requests.ContainsKey(wanted), $"request 0x{wanted:x8} never reached the kernel");
        // Every render file has more handles, and some BOs more mappings, than the first arrays hold: each list was asked again.
        var renderBos = kfdReader.FilesOf(ImageFileKind.RenderNode).Sum(f => kfdReader.Read(f, CriuRenderNode.Parser).BoEntries.Count);
        // Two per render file for the capture, two for the probe before the pause (the count, then a first handle).
        Assert.Equal(2 * 2 + 2 * 2, run.Requests[DrmIoctls.AmdgpuGemListHandles]);
        Assert.True(run.Requests[DrmIoctls.AmdgpuGemOp] > renderBos, $"{because}: {run.Requests[DrmIoctls.AmdgpuGemOp]} GEM_OPs for {renderBos} BOs: no mapping list was asked again");

        // The kfd image restores on the simulator path, and the restored process continues as the original does.
        var (restoreRc, restoreOut, restoreErr) = Sim("restore", "--driver", $"sim:{sim.SocketPath}", "--images", Dir("kfd"), "--json", "--state-dir", Dir("state-restore"), "--trust-key", Path.Combine(Dir("state-kfd"), "image.key"));
        Assert.True(restoreRc == 0, $"{because}: restore of the kfd image exited {restoreRc}: {restoreErr}");
        var restored = JsonDocument.Parse(restoreOut).RootElement.GetProperty("pid").GetUInt32();
        Assert.Equal(sim.Client.Run(pid, 5), sim.Client.Run(restored, 5));
        Assert.Equal(sim.Client.State(pid).Digest, sim.Client.State(restored).Digest);
    }

    [Fact]
    public void The_supervisors_seccomp_declarations_match_the_kernel_headers()
    {
        var (rc, json, err) = CHeaderAbi.Exec(EmulatedKernel.LauncherPath, ["--abi"]);
        Assert.True(rc == 0, err);
        static long Off<T>(string field) => System.Runtime.InteropServices.Marshal.OffsetOf<T>(field).ToInt64();
        var ours = new
        {
            seccomp_notif = new[] { Sizes.Of<SeccompNotif>(), Off<SeccompNotif>("pid"), Off<SeccompNotif>("nr"), Off<SeccompNotif>("args") },
            seccomp_notif_resp = new[] { Sizes.Of<SeccompNotifResp>(), Off<SeccompNotifResp>("error"), Off<SeccompNotifResp>("flags") },
            seccomp_notif_addfd = new[] { Sizes.Of<SeccompNotifAddfd>(), Off<SeccompNotifAddfd>("srcfd"), Off<SeccompNotifAddfd>("newfd_flags") },
            ioctls = new[] { SeccompNative.NotifRecv, SeccompNative.NotifSend, SeccompNative.NotifIdValid, SeccompNative.NotifAddfd },
            @continue = SeccompNative.UserNotifFlagContinue,
        };
        Assert.Equal(json.Trim(), JsonSerializer.Serialize(ours));
    }

    private static List<string> Pages(string dir) =>
        [.. Directory.GetFiles(dir).Select(Path.GetFileName).OfType<string>().Where(n => n.Contains("pages-", StringComparison.Ordinal)).Order()];
}
