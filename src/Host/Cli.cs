using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.Json;
using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Host;

/// <summary>What every command shares: the --json and --driver options, one-line errors, exit codes.</summary>
public static class Cli
{
    public const int ExitOk = 0, ExitFailed = 1, ExitBadInput = 2, ExitInterrupted = 130, ExitTerminated = 143;

    public static Option<bool> JsonOption() => new("--json") { Description = "print machine-readable JSON" };

    public static Option<string> DriverOption() => new("--driver")
    {
        Description = "sim:SOCKET (the simulated driver) or kfd (the real /dev/kfd and render nodes)",
        Required = true,
    };

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = false,
    };

    public static void PrintJson(object value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, Json));

    /// <summary>Phases as JSON: name → seconds, in the order they ran.</summary>
    public static IReadOnlyList<object> Phases(IReadOnlyList<Actors.PhaseTime>? phases) =>
        [.. (phases ?? []).Select(p => new { phase = p.Phase, seconds = p.Seconds })];

    /// <summary>"pause 0.01 s, capture 0.20 s, copy 0.80 s (1.31 GB/s), …": the rate is over the copy phase's wall time.</summary>
    public static string DescribePhases(IReadOnlyList<Actors.PhaseTime>? phases, long bytes, string copyPhase) =>
        "phases: " + string.Join(", ", (phases ?? []).Select(p => p.Phase == copyPhase && p.Seconds > 0
            ? $"{p.Phase} {p.Seconds:F2} s ({bytes / p.Seconds / 1e9:F2} GB/s)"
            : $"{p.Phase} {p.Seconds:F2} s"));

    /// <summary>True when a person is watching: progress bars go to the terminal, never into --json output.</summary>
    public static bool Interactive(bool json) => !json && !Console.IsOutputRedirected && !Console.IsErrorRedirected;

    public static async Task<int> InvokeAsync(RootCommand root, string[] args)
    {
        try
        {
            Simulator.SimulatorClient.ConfiguredTimeout = () =>
                Actors.EngineConfig.Load().GetTimeSpan("gpuckpt.driver.sim-call-timeout", TimeSpan.FromMinutes(2), allowInfinite: false);
            var parse = root.Parse(args);
            if (parse.Errors.Count > 0)
            {
                // One line on stderr and exit 2, as for any bad input; `--help` shows the usage.
                Console.Error.WriteLine($"gpuckpt: {UsageErrors.Describe(parse.Errors[0].Message)} (see gpuckpt {CommandPath(parse)}--help)");
                return ExitBadInput;
            }
            return await parse.InvokeAsync();
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    private static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var r = parse.CommandResult; r.Parent is CommandResult parent; r = parent) names.Insert(0, r.Command.Name);
        return names.Count == 0 ? "" : string.Join(' ', names) + " ";
    }

    /// <summary>Runs a command body, turning the errors a user can cause into one line on stderr and an exit code.</summary>
    public static async Task<int> Guard(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    public static int Guard(Func<int> body) => Guard(() => Task.FromResult(body())).GetAwaiter().GetResult();

    private static int Fail(Exception e)
    {
        var inner = e is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerException! : e;
        Console.Error.WriteLine($"gpuckpt: {inner.Message}");
        if (Environment.GetEnvironmentVariable("GPUCKPT_TRACE") == "1") Console.Error.WriteLine(inner);
        return inner is UsageException or Engine.Settings.EnvironmentValueException or Engine.Trust.TrustException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException
            ? ExitBadInput
            : ExitFailed;
    }
}
