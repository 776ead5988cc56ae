using Gpuckpt.Tests.Support;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>A member of a <see cref="TestCluster"/>: a `gpuckpt node` process or the same node built in the test's process.</summary>
internal abstract class TestNode(string name) : IAsyncDisposable
{
    public string Name { get; } = name;

    /// <summary>The remoting port it bound.</summary>
    public abstract int Port { get; }

    /// <summary>The port of its migration data link (none when the link is off).</summary>
    public abstract int? DataPort { get; }

    public abstract bool HasExited { get; }

    /// <summary>What it printed so far (a node process), or where its log goes (a node in the test's process).</summary>
    public abstract string Output { get; }

    /// <summary>Completes once the node is up in the cluster; throws if it stops first or the timeout passes.</summary>
    public abstract Task WaitUp(TimeSpan timeout);

    /// <summary>A graceful leave (SIGTERM for a process); completes when it has left and stopped: exit 0, or 1 when it was downed.</summary>
    public abstract Task<GpuckptProcess.Result> Leave(TimeSpan timeout);

    /// <summary><see cref="Leave"/>; the exit code.</summary>
    public async Task<int> Stop(TimeSpan timeout) => (await Leave(timeout)).ExitCode;

    public abstract ValueTask DisposeAsync();
}
