using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>A node's state directory holds its journal, keys and certificates: made 0700, and refused when others can write it.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class NodeStateDirSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gpuckpt-statedir-").FullName;

    [Fact]
    public async Task A_node_refuses_a_state_directory_others_can_write_before_it_starts()
    {
        var state = Path.Combine(_dir, "shared");
        Directory.CreateDirectory(state);
        File.SetUnixFileMode(state, (UnixFileMode)0x1ff);

        var result = await GpuckptProcess.RunAsync(["node", "--config", "node.conf", "--state-dir", state], timeout: TimeSpan.FromMinutes(1));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{state}: the node's state directory is writable by others (mode 0777); chmod 700 it", result.Stderr);
        Assert.Empty(Directory.GetFileSystemEntries(state));
    }

    [Fact]
    public async Task A_state_directory_a_command_creates_is_0700_whatever_the_umask()
    {
        var state = Path.Combine(_dir, "new", "state");
        using var node = new SimNode(gpus: 1);
        var pid = node.Client.Spawn(Simulator.WorkloadRequest.Named("tiny", 3));

        var result = await GpuckptProcess.RunAsync(["checkpoint", "--driver", $"sim:{node.Server.SocketPath}", "--pid", $"{pid}", "--images",
            Path.Combine(_dir, "image"), "--leave-running", "--state-dir", state, "--json"], timeout: TimeSpan.FromMinutes(1));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(state));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
