using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Engine.Transfer;
using Xunit;

namespace Gpuckpt.Engine.Tests.Transfer;

/// <summary>
/// A node's list of processes that arrived by migration outlives the node: read back as written, replaced whole (no
/// temporary file left), and checked against the driver so that a process that ended is no longer listed.
/// </summary>
public sealed class ArrivedProcessesSpecs : IDisposable
{
    private readonly string _stateDir = Directory.CreateTempSubdirectory("gpuckpt-arrived-").FullName;

    [Fact]
    public void The_list_reads_back_as_last_written_and_leaves_no_temporary_file()
    {
        var record = new ArrivedProcesses(_stateDir);
        Assert.Empty(record.Read());

        record.Write([new ArrivedProcess("migr-1", 1003, "a"), new ArrivedProcess("migr-2", 1007, "c")]);
        record.Write([new ArrivedProcess("migr-2", 1007, "c")]);

        Assert.Equal([new ArrivedProcess("migr-2", 1007, "c")], new ArrivedProcesses(_stateDir).Read());
        Assert.Equal([ArrivedProcesses.FileName], Directory.EnumerateFiles(Path.GetDirectoryName(record.Path)!).Select(Path.GetFileName));
    }

    [Fact]
    public void A_file_that_is_not_a_list_is_refused_naming_it()
    {
        var record = new ArrivedProcesses(_stateDir);
        Directory.CreateDirectory(Path.GetDirectoryName(record.Path)!);
        File.WriteAllText(record.Path, "{\"half\": ");

        var refused = Assert.Throws<InvalidDataException>(record.Read);
        Assert.Contains(record.Path, refused.Message);
    }

    [Fact]
    public void A_process_that_no_longer_exists_on_the_driver_is_dropped()
    {
        using var sim = new TestSimulator(gpus: 1);
        var alive = sim.Client.Spawn(WorkloadRequest.Named("tiny", 1));
        var ended = sim.Client.Spawn(WorkloadRequest.Named("tiny", 2));
        sim.Client.Kill(ended);

        var running = ArrivedProcesses.StillRunning(sim.Client, [new ArrivedProcess("migr-1", alive, "a"), new ArrivedProcess("migr-2", ended, "a")]);

        Assert.Equal([new ArrivedProcess("migr-1", alive, "a")], running);
    }

    public void Dispose() => Directory.Delete(_stateDir, recursive: true);
}
