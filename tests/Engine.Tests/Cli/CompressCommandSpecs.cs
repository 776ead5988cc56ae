using System.Text.Json;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Engine.Uapi;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Cli;

/// <summary>
/// `gpuckpt checkpoint --compress` as a user runs it: chunks that pack are packed, the image verifies and restores into
/// a process that continues as the uninterrupted one does, also after the checkpoint was killed midway and resumed, and
/// as an incremental image whose packed chunks are referenced in its parent; a whole process through CRIU is refused the
/// option in one line.
/// </summary>
public sealed class CompressCommandSpecs : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromMinutes(3);
    private readonly TestSimulator _sim = new(gpus: 1);
    private readonly string _root = Directory.CreateTempSubdirectory("gpuckpt-compress-").FullName;

    [Fact]
    [Trait("Tier", "Full")]
    public async Task A_packed_image_and_one_resumed_after_a_kill_restore_equal_to_the_uninterrupted_process()
    {
        const ulong seed = 43;
        var pid = _sim.Client.Spawn(WorkloadRequest.Named("serve", seed, sizeBytes: 16UL << 20));
        _sim.Client.Run(pid, 2);
        var written = MakeCompressible(pid, new Random((int)seed));
        Assert.True(written > 0, "no BO of the process could be written");

        var packed = await Gpuckpt(["checkpoint", "--pid", $"{pid}", "--images", Dir("A"), "--leave-running", "--compress", "--json"]);
        Assert.True(packed.ExitCode == 0, packed.ToString());
        var a = ManifestCodec.Load(Dir("A"));
        Assert.Equal(PackedSegment.FirstFormat, a.FormatVersion);
        var segments = a.Files.Where(f => ImageFileName.Parse(f.Name).Kind.IsPages()).SelectMany(f => f.Segments).ToList();
        var saved = segments.Where(s => s.Packed).Sum(s => s.Length - s.Lz4);
        // Every chunk the test wrote is three quarters zeros: packed, each saves more than half of it.
        Assert.True(saved * 2 > written, $"seed {seed}: packing saved {saved} bytes of the {written} made compressible");

        // Killed midway, then resumed: the pieces the dead writer packed are written again, and the image is whole.
        var job = $"ckpt-{Guid.NewGuid():N}"[..17];
        var crashed = await Gpuckpt(["checkpoint", "--pid", $"{pid}", "--images", Dir("B"), "--leave-running", "--compress", "--job", job], "chunk#5");
        Assert.True(crashed.Killed, crashed.ToString());
        var resumed = await Gpuckpt(["resume", job]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.False(_sim.Client.State(pid).Paused);
        Assert.Contains(ManifestCodec.Load(Dir("B")).Files.SelectMany(f => f.Segments), s => s.Packed);

        foreach (var image in new[] { "A", "B" })
        {
            var verified = await Gpuckpt(["verify", Dir(image)]);
            Assert.True(verified.ExitCode == 0, verified.ToString());
        }
        _sim.Client.Run(pid, 3);
        var twin = _sim.Client.State(pid).Digest;
        foreach (var image in new[] { "A", "B" })
        {
            var restored = await Gpuckpt(["restore", "--images", Dir(image), "--json"]);
            Assert.True(restored.ExitCode == 0, restored.ToString());
            uint copy;
            using (var r = JsonDocument.Parse(restored.Stdout)) copy = r.RootElement.GetProperty("pid").GetUInt32();
            _sim.Client.Run(copy, 3);
            Assert.True(twin == _sim.Client.State(copy).Digest, $"seed {seed}: the process restored from packed image {image} differs from the uninterrupted one");
            _sim.Client.Kill(copy);
        }

        // Incremental and packed: a chunk packed to the same block as the parent's is referenced there, packed.
        var incremental = await Gpuckpt(["checkpoint", "--pid", $"{pid}", "--images", Dir("D"), "--parent", Dir("A"), "--leave-running", "--compress"]);
        Assert.True(incremental.ExitCode == 0, incremental.ToString());
        Assert.Contains(ManifestCodec.Load(Dir("D")).Files.SelectMany(f => f.Segments), s => s.Packed && s.InParent);
        var chain = await Gpuckpt(["verify", Dir("D")]);
        Assert.True(chain.ExitCode == 0, chain.ToString());
        _sim.Client.Run(pid, 2);
        var later = _sim.Client.State(pid).Digest;
        var fromChain = await Gpuckpt(["restore", "--images", Dir("D"), "--json"]);
        Assert.True(fromChain.ExitCode == 0, fromChain.ToString());
        using (var r = JsonDocument.Parse(fromChain.Stdout))
        {
            var copy = r.RootElement.GetProperty("pid").GetUInt32();
            _sim.Client.Run(copy, 2);
            Assert.True(later == _sim.Client.State(copy).Digest, $"seed {seed}: the process restored from the packed incremental image differs from the uninterrupted one");
        }

        var criu = await GpuckptProcess.RunAsync(["checkpoint", "--criu", "--pid", $"{pid}", "--images", Dir("C"), "--compress"], null, ProcessTimeout);
        Assert.True(criu.ExitCode == 2, criu.ToString());
        Assert.Contains("--compress", Assert.Single(criu.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.False(Directory.Exists(Dir("C")));
    }

    /// <summary>
    /// Writes into every BO the process may write (as its kernels would): in each 64 KiB, a quarter of noise, then zeros.
    /// Pauses the process to find its BOs and unpauses it once. Returns the bytes written.
    /// </summary>
    private long MakeCompressible(uint pid, Random random)
    {
        using var kfd = _sim.Client.OpenKfd(pid);
        var info = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.ProcessInfo };
        Assert.Equal(0, kfd.CriuOp(ref info, [], [], []));
        var devices = new KfdCriuDeviceBucket[info.num_devices];
        var bos = new KfdCriuBoBucket[info.num_bos];
        var dump = info with { op = (uint)KfdCriuOp.Checkpoint };
        Assert.Equal(0, kfd.CriuOp(ref dump, devices, bos, new byte[info.priv_data_size]));
        var minor = _sim.Server.Topology.Gpus.Single(g => g.GpuId == devices[0].actual_gpu_id).DrmRenderMinor;
        long written = 0;
        foreach (var bo in bos.Where(b => b.dmabuf_fd != uint.MaxValue))
        {
            if ((bo.alloc_flags & (uint)KfdAllocFlags.Writable) != 0 && bo.size >= 64 << 10)
            {
                var bytes = new byte[bo.size];
                for (var at = 0; at < bytes.Length; at += 64 << 10) random.NextBytes(bytes.AsSpan(at, 16 << 10));
                using var map = _sim.Client.MapBo(minor, bo.offset, bo.size, writable: true);
                map.Write(0, bytes);
                written += bytes.Length;
            }
            _sim.Client.CloseFd((int)bo.dmabuf_fd);
        }
        var unpause = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.Unpause };
        Assert.Equal(0, kfd.CriuOp(ref unpause, [], [], []));
        return written;
    }

    private string Dir(string name) => Path.Combine(_root, name);

    private Task<GpuckptProcess.Result> Gpuckpt(string[] args, string? crashPoint = null)
    {
        IEnumerable<string> all = args[0] is "checkpoint" or "restore"
            ? args.Concat(["--driver", $"sim:{_sim.SocketPath}", "--state-dir", Dir("state")])
            : args.Concat(["--state-dir", Dir("state")]);
        var environment = new Dictionary<string, string> { ["GPUCKPT_CHUNK_SIZE"] = "256KiB" };
        if (crashPoint is not null) environment["GPUCKPT_CRASH_AT"] = crashPoint;
        return GpuckptProcess.RunAsync(all, environment, ProcessTimeout);
    }

    public void Dispose()
    {
        _sim.Dispose();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
