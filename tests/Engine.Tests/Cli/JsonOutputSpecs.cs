using System.Text.Json;
using System.Text.RegularExpressions;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Cli;

/// <summary>
/// Every command, run as a process with --json, prints JSON a program can read: valid, snake_case keys at every depth;
/// a failure prints only {"error": {"code", "message"}} on stdout, its code equal to the exit code (2 for bad input,
/// 1 for a failed operation), and its message as the one line on stderr.
/// </summary>
public sealed partial class JsonOutputSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);
    private readonly string _dir = Directory.CreateTempSubdirectory("gpuckpt-json-").FullName;
    private readonly TestSimulator _sim = new(gpus: 2);

    public static TheoryData<string[]> BadInput() => new()
    {
        new[] { "checkpoint", "--driver", "{sim}", "--pid", "abc", "--images", "{dir}/i" },
        new[] { "checkpoint", "--driver", "{sim}", "--images", "{dir}/i", "--bogus" },
        new[] { "restore", "--driver", "{sim}", "--images", "{dir}/missing", "--state-dir", "{dir}/s" },
        new[] { "inspect", "{dir}/missing" },
        new[] { "verify", "{dir}/missing" },
        new[] { "spawn", "--driver", "{sim}", "--workload", "tiny", "--seed", "1", "--size", "64X" },
        new[] { "run", "--driver", "{sim}", "--pid", "x", "--steps", "1" },
        new[] { "state", "--driver", "{sim}", "--pid", "-1" },
        new[] { "jobs", "--state-dir", "{dir}/no-journal" },
        new[] { "resume", "ckpt-nosuchjob", "--state-dir", "{dir}/no-journal" },
        new[] { "abort", "ckpt-nosuchjob", "--state-dir", "{dir}/no-journal" },
        new[] { "forget", "ckpt-nosuchjob", "--yes", "--state-dir", "{dir}/no-journal" },
        new[] { "unpause", "--driver", "{sim}", "--pid", "nope" },
        new[] { "demo", "--size", "1X" },
        new[] { "node", "--config", "{dir}/missing.conf", "--driver", "{sim}" },
        new[] { "cluster", "status", "--node", "not-an-address" },
        new[] { "cluster", "add-node", "n1", "--dir", "{dir}/no-ca" },
        new[] { "migrate", "--pid", "1", "--from", "a", "--to", "b", "--node", "not-an-address" },
        new[] { "simulator", "--socket", "{dir}/s.sock", "--gpus", "0" },
        new[] { "abi", "--bogus" },
        new[] { "doctor", "extra-argument" },
    };

    [Theory]
    [MemberData(nameof(BadInput))]
    public async Task Bad_input_with_json_prints_only_the_error_object_with_code_2_equal_to_the_exit_code(string[] args)
    {
        var r = await Gpuckpt([.. args, "--json"]);

        var error = AssertError(r, 2);
        Assert.DoesNotContain("   at ", r.Stdout + r.Stderr);
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()), r.ToString());
    }

    [Fact]
    public async Task Commands_that_need_no_process_print_snake_case_json_and_exit_0()
    {
        var ca = Path.Combine(_dir, "ca");
        foreach (var args in new[]
                 {
                     new[] { "doctor" },
                     ["cluster", "init", "--dir", ca],
                     ["cluster", "add-node", "n1", "--dir", ca],
                     ["spawn", "--driver", Driver, "--workload", "tiny", "--seed", "3"],
                 })
            AssertSnakeCase(Success(await Gpuckpt([.. args, "--json"])), string.Join(' ', args));

        // The ABI's maps are keyed by the kernel's own names (struct, field, ioctl and constant names as in C).
        var abi = Success(await Gpuckpt(["abi", "--json"]));
        foreach (var section in abi.EnumerateObject()) Assert.Contains(section.Name, new[] { "structs", "ioctls", "constants" });
    }

    [Fact]
    [Trait("Tier", "Full")]
    public async Task A_checkpoint_and_the_commands_around_it_print_snake_case_json_with_job_id_pid_and_gpu_maps_as_arrays()
    {
        var pid = _sim.Client.Spawn(WorkloadRequest.Named("train", 7, sizeBytes: 1UL << 20));
        var images = Path.Combine(_dir, "image");
        var state = Path.Combine(_dir, "state");

        var saved = Success(await Gpuckpt(["checkpoint", "--driver", Driver, "--pid", $"{pid}", "--images", images, "--state-dir", state, "--leave-running", "--json"]));
        AssertSnakeCase(saved, "checkpoint");
        var job = saved.GetProperty("job_id").GetString()!;
        Assert.Equal(pid, saved.GetProperty("pid").GetUInt32());
        // train runs on 2 GPUs: that is what a person counts, whatever the number of device actors (render nodes too).
        Assert.Equal(2, saved.GetProperty("gpus").GetInt32());

        var jobs = Success(await Gpuckpt(["jobs", "--state-dir", state, "--json"]));
        AssertSnakeCase(jobs, "jobs");
        Assert.Equal(job, Assert.Single(jobs.EnumerateArray()).GetProperty("job_id").GetString());

        AssertSnakeCase(Success(await Gpuckpt(["inspect", images, "--json"])), "inspect");
        AssertSnakeCase(Success(await Gpuckpt(["verify", images, "--state-dir", state, "--json"])), "verify");
        AssertSnakeCase(Success(await Gpuckpt(["state", "--driver", Driver, "--pid", $"{pid}", "--json"])), "state");

        var plan = Success(await Gpuckpt(["restore", "--driver", Driver, "--images", images, "--state-dir", state, "--dry-run", "--json"]));
        AssertSnakeCase(plan, "restore --dry-run");
        var map = plan.GetProperty("gpu_map").EnumerateArray().ToList();
        Assert.NotEmpty(map);
        Assert.All(map, m => Assert.Equal(["image_gpu", "local_gpu"], m.EnumerateObject().Select(p => p.Name)));

        var resumed = Success(await Gpuckpt(["resume", "--state-dir", state, "--json"]));
        Assert.Empty(resumed.GetProperty("resumed").EnumerateArray());

        // A finished job given again, and a process that is not paused: operations that fail, exit 1, the error shape.
        var again = await Gpuckpt(["abort", job, "--state-dir", state, "--json"]);
        Assert.Contains("finished", AssertError(again, 2).GetProperty("message").GetString());
        var unpause = await Gpuckpt(["unpause", "--driver", Driver, "--pid", $"{pid}", "--state-dir", state, "--json"]);
        var error = AssertError(unpause, 1);
        Assert.Equal($"pid {pid} is not paused: nothing to unpause", error.GetProperty("message").GetString());
        Assert.Equal(pid, error.GetProperty("pid").GetUInt32());
    }

    [Fact]
    public async Task Restore_dry_run_text_wraps_at_80_columns_when_not_on_a_terminal()
    {
        var pid = _sim.Client.Spawn(WorkloadRequest.Named("train", 8, sizeBytes: 1UL << 20));
        var images = Path.Combine(_dir, "image");
        var state = Path.Combine(_dir, "state");
        Success(await Gpuckpt(["checkpoint", "--driver", Driver, "--pid", $"{pid}", "--images", images, "--state-dir", state, "--json"]));

        var plan = await Gpuckpt(["restore", "--driver", Driver, "--images", images, "--state-dir", state, "--dry-run"]);

        Assert.True(plan.ExitCode == 0, plan.ToString());
        var lines = plan.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, l => Assert.True(l.Length <= 80, $"{l.Length} columns: {l}"));
        // A render pass names every BO it creates: longer than a line, it goes on under its own column.
        var pass = Array.FindIndex(lines, l => l.StartsWith("render-pass-1 ", StringComparison.Ordinal));
        Assert.True(pass >= 0 && pass + 1 < lines.Length && lines[pass + 1].StartsWith(new string(' ', 17) + "0x", StringComparison.Ordinal), plan.Stdout);
    }

    [Fact]
    public async Task The_simulator_with_json_prints_its_ready_line_as_json()
    {
        using var sim = GpuckptProcess.Start(["simulator", "--socket", TestSimulator.NewSocketPath(), "--gpus", "2", "--json"]);
        using var ready = JsonDocument.Parse(await sim.WaitForLineAsync(l => l.StartsWith('{'), Timeout));
        AssertSnakeCase(ready.RootElement, "simulator");
        Assert.Equal("ready", ready.RootElement.GetProperty("state").GetString());
        Assert.Equal(2, ready.RootElement.GetProperty("gpus").GetArrayLength());
        sim.Signal(GpuckptProcess.SigTerm);
        Assert.Equal(0, (await sim.WaitForExitAsync(Timeout)).ExitCode);
    }

    private string Driver => $"sim:{_sim.SocketPath}";

    /// <summary>Runs gpuckpt; without --verbose nothing it prints names a .NET type.</summary>
    private async Task<GpuckptProcess.Result> Gpuckpt(IEnumerable<string> args)
    {
        var given = args.Select(a => a.Replace("{sim}", Driver).Replace("{dir}", _dir)).ToList();
        var r = await GpuckptProcess.RunAsync(given, timeout: Timeout);
        if (!given.Contains("--verbose"))
            Assert.False(Host.TypeNames.Named(r.Stdout + r.Stderr), $"gpuckpt {string.Join(' ', given)} printed a .NET type name: {r}");
        return r;
    }

    [Fact]
    public async Task A_failure_names_no_dotnet_type_and_verbose_adds_the_exception()
    {
        var images = Path.Combine(_dir, "not-an-image");
        Directory.CreateDirectory(images);
        File.WriteAllText(Path.Combine(images, "manifest.json"), "{\"format\": 1}\n");
        string[] args = ["inspect", images];

        var plain = await Gpuckpt(args);
        var verbose = await Gpuckpt([.. args, "--verbose"]);

        Assert.True(plain.ExitCode != 0, plain.ToString());
        Assert.Single(plain.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(plain.ExitCode, verbose.ExitCode);
        Assert.True(Host.TypeNames.Named(verbose.Stderr), $"--verbose printed no exception: {verbose}");
    }

    [Theory]
    [InlineData("The JSON value could not be converted to System.UInt32. Path: $.pid", "The JSON value could not be converted to UInt32. Path: $.pid")]
    [InlineData("System.IO.IOException: No space left on device : '/s/jobs-journal.db'", "No space left on device : '/s/jobs-journal.db'")]
    [InlineData("job ckpt-1 crashed (InvalidOperationException): queue 3 is gone", "job ckpt-1 crashed queue 3 is gone")]
    [InlineData("unexpected reply Gpuckpt.Actors.Checkpoint.CheckpointFailed { JobId = j }", "unexpected reply CheckpointFailed { JobId = j }")]
    public void A_message_that_names_a_dotnet_type_loses_the_namespace_and_the_exception_class(string message, string shown)
    {
        Assert.True(Host.TypeNames.Named(message));
        Assert.Equal(shown, Host.TypeNames.Strip(message));
        Assert.False(Host.TypeNames.Named(shown));
    }

    /// <summary>Exit 0 and one JSON document on stdout.</summary>
    private static JsonElement Success(GpuckptProcess.Result r)
    {
        Assert.True(r.ExitCode == 0, r.ToString());
        return JsonDocument.Parse(r.Stdout).RootElement.Clone();
    }

    /// <summary>Exit <paramref name="code"/>, stdout exactly {"error": {"code": code, "message": …, …}}, the message on stderr.</summary>
    private static JsonElement AssertError(GpuckptProcess.Result r, int code)
    {
        Assert.True(r.ExitCode == code, r.ToString());
        var line = Assert.Single(r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var doc = JsonDocument.Parse(line);
        Assert.Equal(["error"], doc.RootElement.EnumerateObject().Select(p => p.Name));
        var error = doc.RootElement.GetProperty("error").Clone();
        Assert.Equal(code, error.GetProperty("code").GetInt32());
        AssertSnakeCase(error, "error");
        Assert.Contains($"gpuckpt: {error.GetProperty("message").GetString()}", r.Stderr);
        return error;
    }

    /// <summary>Every key at every depth is snake_case: lower-case words joined by underscores.</summary>
    private static void AssertSnakeCase(JsonElement e, string where)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject())
                {
                    Assert.True(SnakeCase().IsMatch(p.Name), $"{where}: key '{p.Name}' is not snake_case");
                    AssertSnakeCase(p.Value, $"{where}.{p.Name}");
                }
                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in e.EnumerateArray()) AssertSnakeCase(item, $"{where}[{i++}]");
                break;
        }
    }

    [GeneratedRegex("^[a-z][a-z0-9]*(_[a-z0-9]+)*$")]
    private static partial Regex SnakeCase();

    public void Dispose()
    {
        _sim.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
