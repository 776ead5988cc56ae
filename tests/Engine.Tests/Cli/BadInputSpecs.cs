using System.Diagnostics;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Cli;

/// <summary>
/// Bad input is refused by the CLI (run as a process) in one line naming what is wrong, with exit 2, before anything is
/// paused or created: an images directory that cannot be made or written, a size without a known unit, an environment
/// variable that does not parse, a state directory without a journal given to a command that reads one.
/// </summary>
public sealed class BadInputSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    private readonly string _dir = Directory.CreateTempSubdirectory("gpuckpt-badinput-").FullName;

    [Fact]
    public async Task A_checkpoint_into_a_directory_that_cannot_be_created_is_refused_naming_it_before_any_pause()
    {
        using var sim = new TestSimulator(gpus: 1);
        var pid = sim.Client.Spawn(WorkloadRequest.Named("tiny", 41));
        var file = Path.Combine(_dir, "a-file");
        await File.WriteAllTextAsync(file, "not a directory");
        var images = Path.Combine(file, "images");

        var r = await Checkpoint(sim, pid, images);

        AssertOneLine(r, 2, $"images directory {images} cannot be created");
        AssertNeverPaused(sim, pid);
    }

    [TmpfsFact]
    public async Task A_checkpoint_into_a_read_only_file_system_is_refused_naming_the_directory_before_any_pause()
    {
        using var disk = SmallTmpfs.Mount(1 << 20);
        var images = Directory.CreateDirectory(Path.Combine(disk.Path, "images")).FullName;
        Tool("mount", "-o", "remount,ro", disk.Path);
        using var sim = new TestSimulator(gpus: 1);
        var pid = sim.Client.Spawn(WorkloadRequest.Named("tiny", 42));

        var r = await Checkpoint(sim, pid, images);

        AssertOneLine(r, 2, $"images directory {images} is not writable: read-only file system");
        AssertNeverPaused(sim, pid);
    }

    [Fact]
    public async Task Sizes_take_units_and_a_size_without_a_known_unit_is_refused_naming_the_option()
    {
        using var sim = new TestSimulator(gpus: 1);

        var withUnit = await Spawn(sim, "64K");
        var inBytes = await Spawn(sim, "65536");
        var doubled = await Spawn(sim, "128KiB");
        var bad = await GpuckptProcess.RunAsync(["spawn", "--driver", $"sim:{sim.SocketPath}", "--workload", "tiny", "--seed", "5", "--size", "64X"],
            timeout: Timeout);

        Assert.Equal(sim.Client.State(inBytes).Digest, sim.Client.State(withUnit).Digest);
        Assert.Equal(sim.Client.State(inBytes).Bytes, sim.Client.State(withUnit).Bytes);
        Assert.NotEqual(sim.Client.State(withUnit).Bytes, sim.Client.State(doubled).Bytes);
        AssertOneLine(bad, 2, "--size: '64X' is not a size");
    }

    [Theory]
    [InlineData("GPUCKPT_NODE_PORT", "abc")]
    [InlineData("GPUCKPT_NODE_DATA_PORT", "70000")]
    public async Task A_node_port_variable_that_does_not_parse_is_refused_naming_it(string variable, string value)
    {
        var state = Path.Combine(_dir, "node-state");

        var r = await GpuckptProcess.RunAsync(["node", "--config", "node.conf", "--state-dir", state], new Dictionary<string, string> { [variable] = value },
            timeout: Timeout);

        AssertOneLine(r, 2, $"{variable}={value} is not a port number");
    }

    [Theory]
    [InlineData("cluster", "status")]
    [InlineData("migrate", "--pid", "1", "--from", "a", "--to", "b")]
    public async Task A_node_address_that_does_not_parse_or_where_nothing_listens_is_refused_within_seconds_naming_it(params string[] command)
    {
        var free = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        free.Start();
        var port = ((System.Net.IPEndPoint)free.LocalEndpoint).Port;
        free.Stop();

        var unparsable = await GpuckptProcess.RunAsync([.. command, "--node", "127.0.0.1:http"], timeout: Timeout);
        var clock = Stopwatch.StartNew();
        var nobody = await GpuckptProcess.RunAsync([.. command, "--node", $"127.0.0.1:{port}"], timeout: Timeout);
        clock.Stop();

        AssertOneLine(unparsable, 2, "--node 127.0.0.1:http: not HOST:PORT");
        AssertOneLine(nobody, 1, $"no gpuckpt node at 127.0.0.1:{port}");
        // The refusal itself takes at most gpuckpt.cli.connect-timeout (2 s); the rest is the CLI starting on a busy host.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"refused after {clock.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task A_relative_config_is_read_from_the_current_directory_and_a_missing_one_is_named_there()
    {
        var free = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        free.Start();
        var port = ((System.Net.IPEndPoint)free.LocalEndpoint).Port;
        free.Stop();
        var cwd = Directory.CreateDirectory(Path.Combine(_dir, "cwd")).FullName;
        Directory.CreateDirectory(Path.Combine(cwd, "conf"));
        // Its only seed node is where nothing listens: a refusal naming that port shows this file was the one read.
        await File.WriteAllTextAsync(Path.Combine(cwd, "conf", "mine.conf"),
            await File.ReadAllTextAsync(Path.Combine(Actors.EngineConfig.Directory(), "node.conf")) + $"\nakka.cluster.seed-nodes = [\"127.0.0.1:{port}\"]\n");

        var read = await GpuckptProcess.RunAsync(["cluster", "status", "--config", "conf/mine.conf"], timeout: Timeout, workingDirectory: cwd);
        var missing = await GpuckptProcess.RunAsync(["cluster", "status", "--config", "conf/mine.conf"], timeout: Timeout, workingDirectory: _dir);

        AssertOneLine(read, 1, $"no gpuckpt node at 127.0.0.1:{port}");
        AssertOneLine(missing, 2, $"configuration file not found: {Path.Combine(_dir, "conf", "mine.conf")}");
    }

    [Fact]
    public async Task A_simulator_timeout_variable_that_does_not_parse_is_refused_naming_it()
    {
        using var sim = new TestSimulator(gpus: 1);
        var pid = sim.Client.Spawn(WorkloadRequest.Named("tiny", 43));

        var r = await GpuckptProcess.RunAsync(["state", "--driver", $"sim:{sim.SocketPath}", "--pid", $"{pid}"],
            new Dictionary<string, string> { ["GPUCKPT_SIM_TIMEOUT"] = "soon" }, timeout: Timeout);

        AssertOneLine(r, 2, "GPUCKPT_SIM_TIMEOUT=soon is not a positive number of seconds");
    }

    [Fact]
    public async Task A_driver_socket_that_accepts_and_never_answers_is_given_up_on_in_the_configured_time_naming_it()
    {
        var path = Path.Combine(_dir, "silent.sock");
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream,
            System.Net.Sockets.ProtocolType.Unspecified);
        listener.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        listener.Listen(4);
        var accepted = listener.AcceptAsync();

        var clock = Stopwatch.StartNew();
        var r = await GpuckptProcess.RunAsync(["checkpoint", "--driver", $"sim:{path}", "--pid", "4242", "--images", Path.Combine(_dir, "image"),
            "--state-dir", Path.Combine(_dir, "state")], new Dictionary<string, string> { ["GPUCKPT_SIM_TIMEOUT"] = "2" }, timeout: Timeout);
        clock.Stop();

        using var held = await accepted;
        AssertOneLine(r, 1, $"sim:{path}");
        Assert.Contains("ETIMEDOUT", r.Stderr);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"gave up after {clock.Elapsed.TotalSeconds:F1} s, not about 2 s");
    }

    [Theory]
    [InlineData("jobs")]
    [InlineData("resume")]
    [InlineData("abort", "ckpt-0123456789ab")]
    [InlineData("forget", "ckpt-0123456789ab", "--yes")]
    public async Task A_command_that_reads_the_journal_refuses_a_state_directory_without_one_and_creates_none(params string[] args)
    {
        var state = Path.Combine(_dir, "mistyped-state");

        var r = await GpuckptProcess.RunAsync([.. args, "--state-dir", state], timeout: Timeout);

        AssertOneLine(r, 2, $"no journal in {state}");
        Assert.False(Directory.Exists(state), $"{state} was created");
    }

    [Theory]
    [InlineData("node")]
    [InlineData("checkpoint")]
    public async Task A_state_directory_that_cannot_be_created_is_refused_naming_it_before_any_pause(string command)
    {
        using var sim = new TestSimulator(gpus: 1);
        var pid = sim.Client.Spawn(WorkloadRequest.Named("tiny", 43));
        var file = Path.Combine(_dir, "a-file");
        await File.WriteAllTextAsync(file, "not a directory");
        var state = Path.Combine(file, "state");

        var r = await GpuckptProcess.RunAsync(command == "node"
            ? ["node", "--state-dir", state]
            : ["checkpoint", "--driver", $"sim:{sim.SocketPath}", "--pid", $"{pid}", "--images", Path.Combine(_dir, "images"), "--state-dir", state],
            timeout: Timeout);

        AssertOneLine(r, 2, $"state directory {state} cannot be created");
        AssertNeverPaused(sim, pid);
    }

    private static Task<GpuckptProcess.Result> Checkpoint(TestSimulator sim, uint pid, string images) =>
        GpuckptProcess.RunAsync(["checkpoint", "--driver", $"sim:{sim.SocketPath}", "--pid", $"{pid}", "--images", images, "--leave-running"],
            timeout: Timeout);

    private static async Task<uint> Spawn(TestSimulator sim, string size)
    {
        var r = await GpuckptProcess.RunAsync(["spawn", "--driver", $"sim:{sim.SocketPath}", "--workload", "tiny", "--seed", "5", "--size", size, "--json"],
            timeout: Timeout);
        Assert.True(r.ExitCode == 0, r.ToString());
        return System.Text.Json.JsonDocument.Parse(r.Stdout).RootElement.GetProperty("pid").GetUInt32();
    }

    private static void AssertOneLine(GpuckptProcess.Result r, int exit, string expected)
    {
        Assert.True(r.ExitCode == exit, r.ToString());
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"one line expected:\n{r}");
        Assert.Contains(expected, lines[0]);
    }

    private static void AssertNeverPaused(TestSimulator sim, uint pid)
    {
        var state = sim.Client.State(pid);
        Assert.Equal(0, state.Counters.ProcessInfo);
        Assert.False(state.Paused);
    }

    private static void Tool(string name, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(name, args) { RedirectStandardError = true })!;
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{name} {string.Join(' ', args)}: {error}");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
