using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Load.Tests.Commands;

/// <summary>gpuckpt-load as a person types it: --help documents it; bad input is one line and exit 2, before anything runs.</summary>
public sealed class LoadCommandLineSpecs
{
    private static Task<GpuckptProcess.Result> Load(params string[] args) =>
        GpuckptProcess.RunAsync(args, timeout: TimeSpan.FromMinutes(1), program: GpuckptProcess.LoadTool);

    [Fact]
    public async Task Help_documents_every_command_and_the_options_of_run()
    {
        var root = await Load("--help");
        Assert.Equal(0, root.ExitCode);
        foreach (var command in (string[])["run", "bench", "jobs", "migrate", "cli"]) Assert.Contains($"  {command} ", root.Stdout);

        var run = await Load("run", "--help");
        Assert.Equal(0, run.ExitCode);
        foreach (var option in (string[])["--scenario", "--load", "--mix", "--warm-up", "--max-iterations", "--report", "--format", "--compare", "--work-dir"])
            Assert.Contains(option, run.Stdout);
        Assert.Contains("inject:RATE:DURATION", run.Stdout);
        Assert.Contains("small-checkpoints", run.Stdout);

        var migrate = await Load("migrate", "--help");
        Assert.Contains("--runs", migrate.Stdout);
    }

    [Theory]
    [InlineData("--jobs", "jobs", "--jobs", "abc")]
    [InlineData("--jobs", "jobs", "--jobs", "0")]
    [InlineData("--runs", "migrate", "--runs", "-3")]
    [InlineData("--size", "bench", "--size", "12QB")]
    [InlineData("--load", "run", "--load", "inject:fast:10s")]
    [InlineData("--load", "run", "--load", "constant:2")]
    [InlineData("--warm-up", "run", "--warm-up", "soon")]
    [InlineData("--mix", "run", "--mix", "round-trip=0")]
    [InlineData("--format", "run", "--format", "pdf")]
    [InlineData("--scenario", "run", "--scenario", "everything")]
    [InlineData("--bogus", "run", "--bogus")]
    [InlineData("--concurrency", "jobs", "--concurrency")]
    public async Task Bad_input_is_one_line_naming_it_and_exit_2(string named, params string[] args)
    {
        var result = await Load(args);
        Assert.True(result.ExitCode == 2, $"{string.Join(' ', args)}: {result}");
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"{string.Join(' ', args)}: {result}");
        Assert.StartsWith("gpuckpt-load: ", lines[0]);
        Assert.Contains(named, lines[0]);
        Assert.DoesNotContain("   at ", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public async Task A_compare_file_that_is_not_a_report_is_refused_before_the_run_naming_it()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "{\"not\": \"a report\"}");
            var work = Directory.CreateTempSubdirectory("gpuckpt-load-spec-").FullName;
            var result = await Load("run", "--compare", file, "--work-dir", work, "--load", "constant:1:1s");
            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.Equal($"gpuckpt-load: {file}: not a gpuckpt-load JSON report", result.Stderr.Trim());
            Assert.Empty(Directory.GetFileSystemEntries(work));
            Directory.Delete(work);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
