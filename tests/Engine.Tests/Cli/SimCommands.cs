using System.Text.Json;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Cli;

/// <summary>
/// gpuckpt commands as a user runs them against one test simulator (one GPU), their images and state directory under
/// one scratch directory: checkpoint and restore get the simulator's driver, every command but inspect the state
/// directory, and the engine copies in chunks of 256 KiB.
/// </summary>
internal sealed class SimCommands(string prefix) : IDisposable
{
    public static readonly TimeSpan ProcessTimeout = TimeSpan.FromMinutes(3);

    public TestSimulator Sim { get; } = new(gpus: 1);

    public string Root { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    public string Dir(string name) => Path.Combine(Root, name);

    /// <summary>Runs one command; with <paramref name="crashPoint"/>, the engine kills itself there (GPUCKPT_CRASH_AT).</summary>
    public Task<GpuckptProcess.Result> Run(string[] args, string? crashPoint = null)
    {
        IEnumerable<string> all = args[0] is "checkpoint" or "restore"
            ? args.Concat(["--driver", $"sim:{Sim.SocketPath}", "--state-dir", Dir("state")])
            : args[0] is "inspect" ? args : args.Concat(["--state-dir", Dir("state")]);
        var environment = new Dictionary<string, string> { ["GPUCKPT_CHUNK_SIZE"] = "256KiB" };
        if (crashPoint is not null) environment["GPUCKPT_CRASH_AT"] = crashPoint;
        return GpuckptProcess.RunAsync(all, environment, ProcessTimeout);
    }

    /// <summary>
    /// `restore --images IMAGE --json`, which must succeed; then the restored process runs <paramref name="steps"/>
    /// steps. Returns its pid, for a comparison with the uninterrupted process.
    /// </summary>
    public async Task<uint> RestoreAndRun(string image, ulong steps)
    {
        var restored = await Run(["restore", "--images", image, "--json"]);
        Assert.True(restored.ExitCode == 0, restored.ToString());
        uint copy;
        using (var r = JsonDocument.Parse(restored.Stdout)) copy = r.RootElement.GetProperty("pid").GetUInt32();
        Sim.Client.Run(copy, steps);
        return copy;
    }

    public void Dispose()
    {
        Sim.Dispose();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
