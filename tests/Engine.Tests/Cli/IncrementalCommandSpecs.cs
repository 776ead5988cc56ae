using System.Text.Json;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Cli;

/// <summary>
/// `gpuckpt checkpoint --parent DIR` as a user runs it: the incremental image verifies, restores and continues as the
/// uninterrupted process does; a parent that is missing is refused before anything is paused (exit 2), and a chain
/// whose parent went missing afterwards is refused by verify and restore (exit 1), each in one line naming it.
/// </summary>
public sealed class IncrementalCommandSpecs : IDisposable
{
    private readonly SimCommands _cli = new("gpuckpt-incremental-");

    [Fact]
    [Trait("Tier", "Full")]
    public async Task Checkpoint_with_a_parent_writes_what_changed_and_restores_equal_to_the_uninterrupted_process()
    {
        const ulong seed = 41;
        var pid = _cli.Sim.Client.Spawn(WorkloadRequest.Named("serve", seed, sizeBytes: 16UL << 20));
        _cli.Sim.Client.Run(pid, 2);
        var full = await _cli.Run(["checkpoint", "--pid", $"{pid}", "--images", _cli.Dir("A"), "--leave-running", "--json"]);
        Assert.True(full.ExitCode == 0, full.ToString());
        _cli.Sim.Client.Run(pid, 3);
        var incremental = await _cli.Run(["checkpoint", "--pid", $"{pid}", "--images", _cli.Dir("B"), "--parent", _cli.Dir("A"), "--leave-running", "--json"]);
        Assert.True(incremental.ExitCode == 0, incremental.ToString());
        using (var a = JsonDocument.Parse(full.Stdout))
        using (var b = JsonDocument.Parse(incremental.Stdout))
        {
            var written = b.RootElement.GetProperty("written_bytes").GetInt64();
            Assert.Equal(a.RootElement.GetProperty("written_bytes").GetInt64(), written + b.RootElement.GetProperty("referenced_bytes").GetInt64());
            Assert.True(written > 0 && written * 10 <= a.RootElement.GetProperty("written_bytes").GetInt64(), $"seed {seed}: {incremental.Stdout}");
        }
        Assert.Equal(_cli.Dir("A"), ManifestCodec.Load(_cli.Dir("B")).Parent!.Path);
        var verified = await _cli.Run(["verify", _cli.Dir("B")]);
        Assert.True(verified.ExitCode == 0, verified.ToString());
        var inspected = await _cli.Run(["inspect", _cli.Dir("B"), "--json"]);
        Assert.True(inspected.ExitCode == 0, inspected.ToString());
        using (var i = JsonDocument.Parse(inspected.Stdout))
        {
            Assert.Equal(ManifestCodec.Load(_cli.Dir("A")).ImageId, i.RootElement.GetProperty("parent").GetProperty("image_id").GetString());
            Assert.True(i.RootElement.GetProperty("referenced_bytes").GetInt64() > 0, inspected.Stdout);
        }
        _cli.Sim.Client.Run(pid, 4);
        var twin = _cli.Sim.Client.State(pid).Digest;

        var copy = await _cli.RestoreAndRun(_cli.Dir("B"), 4);
        Assert.True(twin == _cli.Sim.Client.State(copy).Digest, $"seed {seed}: the process restored from B differs from the uninterrupted one after 4 steps");

        // A parent that is not there: bad input, refused before the process is paused or a directory is made.
        var pauses = _cli.Sim.Client.State(pid).Counters.ProcessInfo;
        var missing = await _cli.Run(["checkpoint", "--pid", $"{pid}", "--images", _cli.Dir("C"), "--parent", _cli.Dir("nowhere"), "--leave-running"]);
        Assert.True(missing.ExitCode == 2, missing.ToString());
        Assert.Contains(_cli.Dir("nowhere"), Assert.Single(Lines(missing.Stderr)));
        Assert.Equal(pauses, _cli.Sim.Client.State(pid).Counters.ProcessInfo);
        Assert.False(Directory.Exists(_cli.Dir("C")));
        var criu = await GpuckptProcess.RunAsync(["checkpoint", "--criu", "--pid", $"{pid}", "--images", _cli.Dir("C"), "--parent", _cli.Dir("A")], null, SimCommands.ProcessTimeout);
        Assert.True(criu.ExitCode == 2, criu.ToString());
        Assert.Contains("--parent", Assert.Single(Lines(criu.Stderr)));

        // The parent goes away after the fact: verify and restore refuse the chain, naming it.
        Directory.Move(_cli.Dir("A"), _cli.Dir("A-moved"));
        var unverified = await _cli.Run(["verify", _cli.Dir("B")]);
        Assert.True(unverified.ExitCode == 1, unverified.ToString());
        Assert.StartsWith($"gpuckpt: {_cli.Dir("A")}: parent image missing", Assert.Single(Lines(unverified.Stderr)));
        var refused = await _cli.Run(["restore", "--images", _cli.Dir("B")]);
        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.Contains($"{_cli.Dir("A")}: parent image missing", Assert.Single(Lines(refused.Stderr)));
    }

    [Fact]
    [Trait("Tier", "Full")]
    public async Task An_incremental_checkpoint_killed_midway_resumes_still_referencing_its_parent_and_restores_equal()
    {
        const ulong seed = 42;
        var pid = _cli.Sim.Client.Spawn(WorkloadRequest.Named("serve", seed, sizeBytes: 16UL << 20));
        _cli.Sim.Client.Run(pid, 1);
        var full = await _cli.Run(["checkpoint", "--pid", $"{pid}", "--images", _cli.Dir("A"), "--leave-running"]);
        Assert.True(full.ExitCode == 0, full.ToString());
        _cli.Sim.Client.Run(pid, 2);
        var job = $"ckpt-{Guid.NewGuid():N}"[..17];
        var crashed = await _cli.Run(["checkpoint", "--pid", $"{pid}", "--images", _cli.Dir("B"), "--parent", _cli.Dir("A"), "--leave-running", "--job", job], "chunk#5");
        Assert.True(crashed.Killed, crashed.ToString());
        Assert.Equal(ImageState.InProgress, ManifestCodec.Load(_cli.Dir("B")).State);
        var resumed = await _cli.Run(["resume", job]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.False(_cli.Sim.Client.State(pid).Paused);

        // The chunks journalled before the kill are taken over as references too: B holds what changed, no more.
        var a = ManifestCodec.Load(_cli.Dir("A"));
        var b = ManifestCodec.Load(_cli.Dir("B"));
        long Written(ImageManifest m) => m.Files.Where(f => ImageFileName.Parse(f.Name).Kind.IsPages())
            .SelectMany(f => f.Segments).Where(s => s.Offset >= LengthPrefix.Size && !s.InParent).Sum(s => s.Length);
        Assert.True(Written(b) > 0 && Written(b) * 10 <= Written(a), $"seed {seed}: B wrote {Written(b)} page bytes after its resume, A {Written(a)}");
        var verified = await _cli.Run(["verify", _cli.Dir("B")]);
        Assert.True(verified.ExitCode == 0, verified.ToString());
        _cli.Sim.Client.Run(pid, 3);
        var twin = _cli.Sim.Client.State(pid).Digest;
        var copy = await _cli.RestoreAndRun(_cli.Dir("B"), 3);
        Assert.True(twin == _cli.Sim.Client.State(copy).Digest, $"seed {seed}: the process restored from the resumed B differs from the uninterrupted one");
    }

    private static IEnumerable<string> Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public void Dispose() => _cli.Dispose();
}
