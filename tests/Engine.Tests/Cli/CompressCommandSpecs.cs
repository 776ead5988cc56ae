using System.Text.Json;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Simulator.Workloads;
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
    private readonly SimCommands _cli = new("gpuckpt-compress-");

    [Fact]
    [Trait("Tier", "Full")]
    public async Task A_packed_image_and_one_resumed_after_a_kill_restore_equal_to_the_uninterrupted_process()
    {
        const ulong seed = 43;
        var pid = _cli.Sim.Client.Spawn(WorkloadRequest.Named("serve", seed, sizeBytes: 16UL << 20));
        _cli.Sim.Client.Run(pid, 2);
        var written = PartlyFilled.Write(_cli.Sim.Client, _cli.Sim.Server.Topology, pid, seed);
        Assert.True(written > 0, "no BO of the process could be written");

        var packed = await _cli.Run(["checkpoint", "--pid", $"{pid}", "--images", _cli.Dir("A"), "--leave-running", "--compress", "--json"]);
        Assert.True(packed.ExitCode == 0, packed.ToString());
        var a = ManifestCodec.Load(_cli.Dir("A"));
        Assert.Equal(PackedSegment.FirstFormat, a.FormatVersion);
        var segments = a.Files.Where(f => ImageFileName.Parse(f.Name).Kind.IsPages()).SelectMany(f => f.Segments).ToList();
        var saved = segments.Where(s => s.Packed).Sum(s => s.Length - s.Lz4);
        // Every chunk the test wrote is three quarters zeros: packed, each saves more than half of it.
        Assert.True(saved * 2 > written, $"seed {seed}: packing saved {saved} bytes of the {written} made compressible");
        // inspect says how much is held packed, and in how much.
        var inspected = await _cli.Run(["inspect", _cli.Dir("A"), "--json"]);
        Assert.True(inspected.ExitCode == 0, inspected.ToString());
        using (var i = JsonDocument.Parse(inspected.Stdout))
        {
            Assert.Equal(segments.Where(s => s.Packed).Sum(s => s.Length), i.RootElement.GetProperty("packed_bytes").GetInt64());
            Assert.Equal(segments.Where(s => s.Packed).Sum(s => s.Lz4), i.RootElement.GetProperty("packed_stored_bytes").GetInt64());
        }
        var table = await _cli.Run(["inspect", _cli.Dir("A")]);
        Assert.Contains("of LZ4 blocks", table.Stdout);

        // Killed midway, then resumed: the pieces the dead writer packed are written again, and the image is whole.
        var job = $"ckpt-{Guid.NewGuid():N}"[..17];
        var crashed = await _cli.Run(["checkpoint", "--pid", $"{pid}", "--images", _cli.Dir("B"), "--leave-running", "--compress", "--job", job], "chunk#5");
        Assert.True(crashed.Killed, crashed.ToString());
        var resumed = await _cli.Run(["resume", job]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.False(_cli.Sim.Client.State(pid).Paused);
        Assert.Contains(ManifestCodec.Load(_cli.Dir("B")).Files.SelectMany(f => f.Segments), s => s.Packed);

        foreach (var image in new[] { "A", "B" })
        {
            var verified = await _cli.Run(["verify", _cli.Dir(image)]);
            Assert.True(verified.ExitCode == 0, verified.ToString());
        }
        _cli.Sim.Client.Run(pid, 3);
        var twin = _cli.Sim.Client.State(pid).Digest;
        foreach (var image in new[] { "A", "B" })
        {
            var copy = await _cli.RestoreAndRun(_cli.Dir(image), 3);
            Assert.True(twin == _cli.Sim.Client.State(copy).Digest, $"seed {seed}: the process restored from packed image {image} differs from the uninterrupted one");
            _cli.Sim.Client.Kill(copy);
        }

        // Incremental and packed: a chunk packed to the same block as the parent's is referenced there, packed.
        var incremental = await _cli.Run(["checkpoint", "--pid", $"{pid}", "--images", _cli.Dir("D"), "--parent", _cli.Dir("A"), "--leave-running", "--compress"]);
        Assert.True(incremental.ExitCode == 0, incremental.ToString());
        Assert.Contains(ManifestCodec.Load(_cli.Dir("D")).Files.SelectMany(f => f.Segments), s => s.Packed && s.InParent);
        var chain = await _cli.Run(["verify", _cli.Dir("D")]);
        Assert.True(chain.ExitCode == 0, chain.ToString());
        _cli.Sim.Client.Run(pid, 2);
        var later = _cli.Sim.Client.State(pid).Digest;
        var fromChain = await _cli.RestoreAndRun(_cli.Dir("D"), 2);
        Assert.True(later == _cli.Sim.Client.State(fromChain).Digest, $"seed {seed}: the process restored from the packed incremental image differs from the uninterrupted one");

        var criu = await GpuckptProcess.RunAsync(["checkpoint", "--criu", "--pid", $"{pid}", "--images", _cli.Dir("C"), "--compress"], null, SimCommands.ProcessTimeout);
        Assert.True(criu.ExitCode == 2, criu.ToString());
        Assert.Contains("--compress", Assert.Single(criu.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.False(Directory.Exists(_cli.Dir("C")));
    }

    public void Dispose() => _cli.Dispose();
}
