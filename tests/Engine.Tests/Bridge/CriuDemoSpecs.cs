using System.Text.Json;
using Gpuckpt.Engine.Bridge;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Bridge;

/// <summary><c>gpuckpt demo --criu</c>, the shipped command, run as a user runs it: a whole GPU process through CRIU.</summary>
public sealed class CriuDemoSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(6);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-criu-demo-spec-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    [Trait("Tier", "Full")]
    public async Task Demo_criu_restores_the_process_under_its_pid_with_its_counter_going_on_and_its_gpu_equal_to_the_twin()
    {
        var seed = TestSeed.Fresh();
        var run = await GpuckptProcess.RunAsync(["demo", "--criu", "--json", "--seed", $"{seed}", "--size", $"{16UL << 20}", "--steps", "2"], timeout: Timeout);
        Assert.True(run.ExitCode == 0, $"seed {seed}: {run}");
        var facts = JsonDocument.Parse(run.Stdout).RootElement;
        var pid = facts.GetProperty("pid_before").GetInt32();
        Assert.Equal(pid, facts.GetProperty("pid_after").GetInt32());
        var atDump = facts.GetProperty("counter_at_dump").GetInt64();
        Assert.True(atDump > 0, $"seed {seed}: the counter had not counted before the dump: {run.Stdout}");
        Assert.Equal(atDump + 1, facts.GetProperty("counter_first_after_restore").GetInt64());
        Assert.True(facts.GetProperty("counter_after_restore").GetInt64() > atDump, $"seed {seed}: the counter did not go on after the restore: {run.Stdout}");
        var digest = facts.GetProperty("digest_restored").GetString();
        Assert.False(string.IsNullOrEmpty(digest));
        Assert.Equal(facts.GetProperty("digest_twin").GetString(), digest);
        Assert.Equal(4UL, facts.GetProperty("step").GetUInt64());
        Assert.Equal(1, facts.GetProperty("resumes").GetInt32());
        Assert.True(facts.GetProperty("image_bytes").GetInt64() > 16L << 20, $"seed {seed}: the image holds less than the GPU memory: {run.Stdout}");
        Assert.True(facts.GetProperty("ok").GetBoolean());
        // Nothing is left running: the restored process ended with the demo.
        Assert.False(Directory.Exists($"/proc/{pid}"), $"pid {pid} still runs after the demo ended");
    }

    [Fact]
    public async Task Demo_criu_without_criu_or_with_one_too_old_says_how_to_install_it_in_one_line()
    {
        var old = Path.Combine(_dir.FullName, "criu-3.17");
        File.WriteAllText(old, "#!/bin/sh\necho Version: 3.17\n");
        BridgeHarness.Chmod(old, 0x1ed);
        var tooOld = await GpuckptProcess.RunAsync(["demo", "--criu"], new Dictionary<string, string> { ["GPUCKPT_CRIU"] = old }, Timeout);
        Assert.Equal(1, tooOld.ExitCode);
        Assert.Equal($"gpuckpt: {old} is CRIU 3.17, too old: whole-process checkpoints need 4.2 or later ({CriuInstall.InstallHint})", tooOld.Stderr.Trim());
        Assert.Equal("", tooOld.Stdout);
        var none = await GpuckptProcess.RunAsync(["demo", "--criu"], new Dictionary<string, string> { ["GPUCKPT_CRIU"] = Path.Combine(_dir.FullName, "nowhere") }, Timeout);
        Assert.Equal(1, none.ExitCode);
        Assert.Single(none.Stderr.Trim().Split('\n'));
        Assert.StartsWith("gpuckpt: CRIU is not installed", none.Stderr);
        Assert.Contains("bash .ci/install-criu", none.Stderr);
    }
}
