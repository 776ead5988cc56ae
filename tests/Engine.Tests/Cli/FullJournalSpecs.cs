using System.Diagnostics;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Cli;

/// <summary>
/// The job journal on a full file system (a real ENOSPC from a small tmpfs): `gpuckpt checkpoint` ends within seconds
/// with one line naming the journal's file and the cause, before anything is paused, instead of waiting on journal
/// actors that never started.
/// </summary>
public sealed class FullJournalSpecs
{
    [TmpfsFact]
    public async Task A_checkpoint_with_its_journal_on_a_full_disk_says_so_in_one_line_before_pausing_anything()
    {
        using var disk = SmallTmpfs.Mount(1 << 20);
        var state = Directory.CreateDirectory(Path.Combine(disk.Path, "state")).FullName;
        Fill(disk.Path);
        using var sim = new TestSimulator();
        using var images = new TempImages();
        var pid = sim.Client.Spawn(WorkloadRequest.Named("tiny", 25));

        var clock = Stopwatch.StartNew();
        var r = await GpuckptProcess.RunAsync(["checkpoint", "--driver", $"sim:{sim.SocketPath}", "--pid", pid.ToString(), "--images", images.Path,
            "--leave-running", "--state-dir", state], timeout: TimeSpan.FromSeconds(60));
        clock.Stop();

        Assert.Equal(1, r.ExitCode);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"one line expected:\n{r}");
        Assert.Contains(Path.Combine(state, "jobs-"), lines[0]);
        Assert.Contains("no space left", lines[0]);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed.TotalSeconds:F1} s");
        var after = sim.Client.State(pid);
        Assert.Equal(0, after.Counters.ProcessInfo);
        Assert.False(after.Paused);
    }

    /// <summary>Writes until the file system refuses even one page: it is full.</summary>
    private static void Fill(string dir)
    {
        var block = new byte[64 << 10];
        Random.Shared.NextBytes(block);
        using var filler = new FileStream(Path.Combine(dir, "filler"), FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1);
        foreach (var size in new[] { block.Length, 4096, 1 })
        {
            try
            {
                while (true) filler.Write(block, 0, size);
            }
            catch (IOException)
            {
            }
        }
    }

    private sealed class TempImages : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"gpuckpt-img-{Guid.NewGuid():N}");

        public void Dispose()
        {
            if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
        }
    }
}
