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

    /// <summary>Set from the command line before a command runs: --json asks for JSON on stdout, failures included.</summary>
    public static bool JsonMode { get; private set; }

    /// <summary>Set from the command line: --verbose (or GPUCKPT_TRACE=1) adds an error's inner exceptions on stderr.</summary>
    public static bool Verbose { get; private set; }

    private static bool _errorReported;

    public static Option<bool> VerboseOption() => new("--verbose")
    {
        Description = "on an error, also print its inner causes (for a bug report)",
        Recursive = true,
    };

    /// <summary>
    /// The one way a command reports a failure: one line on stderr and, with --json, {"error": {"code", "message", …}}
    /// as the only thing on stdout. Detail adds snake_case fields that locate the failure (job_id, pid, node, step).
    /// </summary>
    public static int Error(string message, int code = ExitFailed, object? detail = null)
    {
        _errorReported = true;
        if (!Verbose && TypeNames.Named(message)) message = TypeNames.Strip(message);
        StatusLine.Clear();
        Console.Error.WriteLine($"gpuckpt: {message}");
        if (!JsonMode) return code;
        var error = new Dictionary<string, object?> { ["code"] = code, ["message"] = message };
        if (detail is not null)
            foreach (var field in JsonSerializer.SerializeToElement(detail, Json).EnumerateObject())
                error.TryAdd(field.Name, field.Value);
        PrintJson(new { error });
        return code;
    }

    /// <summary><paramref name="value"/> as JSON with its member <paramref name="member"/> replaced by <paramref name="items"/>.</summary>
    public static System.Text.Json.Nodes.JsonNode WithList(object value, string member, IEnumerable<object> items)
    {
        var node = JsonSerializer.SerializeToNode(value, Json)!;
        node[member] = JsonSerializer.SerializeToNode(items, Json);
        return node;
    }

    /// <summary>The terminal's width, or 80 when stdout is not a terminal.</summary>
    public static int Width() => !Console.IsOutputRedirected && Console.WindowWidth is > 20 and var w ? w : 80;

    /// <summary>
    /// <paramref name="label"/> then <paramref name="text"/> in lines of at most <paramref name="width"/> characters, broken
    /// between words, the text's later lines indented under its first (a word longer than a line stands alone).
    /// </summary>
    public static IEnumerable<string> Wrap(string label, string text, int width)
    {
        var indent = new string(' ', label.Length);
        var line = new System.Text.StringBuilder(label);
        var empty = true;
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!empty && line.Length + 1 + word.Length > width)
            {
                yield return line.ToString();
                line.Clear().Append(indent);
                empty = true;
            }
            if (!empty) line.Append(' ');
            line.Append(word);
            empty = false;
        }
        yield return line.ToString();
    }

    /// <summary>"host:port" of an Akka address: the one form nodes are named by in output.</summary>
    public static string HostPort(string? address) =>
        address is null ? "" : Akka.Actor.Address.Parse(address) is { Host: { } host, Port: { } port } ? $"{host}:{port}" : address;

    /// <summary>A restore's GPU map in the one JSON form: [{"image_gpu": …, "local_gpu": …}].</summary>
    public static IReadOnlyList<object> GpuMap(IEnumerable<KeyValuePair<string, string>> map) =>
        [.. map.Select(kv => new { image_gpu = kv.Key, local_gpu = kv.Value })];

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
            var verbose = VerboseOption();
            root.Options.Add(verbose);
            var parse = root.Parse(args);
            JsonMode = WantsJson(parse, args);
            Verbose = Environment.GetEnvironmentVariable("GPUCKPT_TRACE") == "1" || (parse.Errors.Count == 0 && parse.GetValue(verbose));
            // One line on stderr and exit 2, as for any bad input; `--help` shows the usage.
            if (parse.Errors.Count > 0)
                return Error($"{UsageErrors.Describe(parse.Errors[0].Message)} (see gpuckpt {CommandPath(parse)}--help)", ExitBadInput);
            // Signals are the commands' own (Interrupts): the parser's 2 s termination timeout would end a command that is
            // still unpausing its process, before it says what to run next.
            var rc = await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
            // A failure a command did not word itself still has the error shape, so --json output is never empty on failure.
            return rc != ExitOk && JsonMode && !_errorReported ? Error($"{CommandPath(parse).Trim()} failed (exit {rc})", rc) : rc;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    private static bool WantsJson(ParseResult parse, string[] args)
    {
        for (CommandResult? r = parse.CommandResult; r is not null; r = r.Parent as CommandResult)
            if (r.Command.Options.FirstOrDefault(o => o.Name == "--json") is Option<bool> json)
                return parse.Errors.Count == 0 ? parse.GetValue(json) : args.Contains("--json");
        return args.Contains("--json");
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
        var code = FailureOf(e).Print(JsonMode);
        if (Verbose) Console.Error.WriteLine(Inner(e));
        return code;
    }

    /// <summary>An error a user can cause, as the command reports it: its message, exit 2 for bad input, else 1.</summary>
    public static CommandOutcome FailureOf(Exception e)
    {
        var inner = Inner(e);
        var code = inner is UsageException or Engine.Settings.EnvironmentValueException or Engine.Trust.TrustException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException
            ? ExitBadInput
            : ExitFailed;
        return CommandOutcome.Failure(inner.Message, code);
    }

    private static Exception Inner(Exception e) => e is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerException! : e;
}
