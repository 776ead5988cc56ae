using System.CommandLine;
using Gpuckpt.Load.Reports;
using Gpuckpt.Load.Scenarios;
using Gpuckpt.Load.Statistics;
using Spectre.Console;

namespace Gpuckpt.Load.Commands;

/// <summary>`gpuckpt-load run`: scenarios under load simulations, then the console table and the report files.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var scenarios = new Option<string[]>("--scenario")
        {
            Description = $"scenario to run (repeat for several, run one after the other): {string.Join(", ", ScenarioCatalog.Names)}",
            DefaultValueFactory = _ => [ScenarioCatalog.Mix],
            AllowMultipleArgumentsPerToken = false,
        };
        scenarios.Validators.Add(r =>
        {
            foreach (var t in r.Tokens.Where(t => !ScenarioCatalog.Names.Contains(t.Value)))
                r.AddError($"--scenario: '{t.Value}' is not one of {string.Join(", ", ScenarioCatalog.Names)}");
        });
        var load = new Option<LoadSimulation[]>("--load")
        {
            Description = $"load simulation (repeat for phases run one after the other): {LoadSimulation.Syntax}; durations like 30s, 2m, 500ms",
            DefaultValueFactory = _ => [new KeepConstant(2, TimeSpan.FromSeconds(30))],
            CustomParser = r =>
            {
                var parsed = new List<LoadSimulation>();
                foreach (var token in r.Tokens)
                {
                    try { parsed.Add(LoadSimulation.Parse(token.Value)); }
                    catch (FormatException e) { r.AddError($"--load: {e.Message}"); return []; }
                }
                return [.. parsed];
            },
        };
        var mix = new Option<string>("--mix")
        {
            Description = "weights of the mix scenario, NAME=WEIGHT,...",
            DefaultValueFactory = _ => $"{ScenarioCatalog.Small}=6,{ScenarioCatalog.RoundTrip}=3,{ScenarioCatalog.Large}=1",
        };
        mix.Validators.Add(r =>
        {
            try { ParseMix(r.GetValueOrDefault<string>() ?? ""); }
            catch (FormatException e) { r.AddError($"--mix: {e.Message}"); }
        });
        var warmUp = Duration("--warm-up", "warm-up before the measured run, reported but not counted (0s for none)", TimeSpan.FromSeconds(5), allowZero: true);
        var maxIterations = LoadCli.Int("--max-iterations", "the most iterations measured per scenario; none start past it", 10_000, 1, 1_000_000);
        var iterationTimeout = Duration("--iteration-timeout", "an iteration running longer counts as a timeout", TimeSpan.FromMinutes(5), allowZero: false);
        var maxInFlight = LoadCli.Int("--max-in-flight", "the most injected iterations running at once; further starts wait", 32, 1, 1024);
        var window = new Option<double>("--window") { Description = "throughput window in seconds (default: about 30 windows over the run, at least 1 s)" };
        window.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is var w && (w < 0 || double.IsNaN(w))) r.AddError($"--window: {w} is not a number of seconds ≥ 0");
        });
        var small = LoadCli.Bytes("--small-size", "BO bytes of a small checkpoint, a round trip and a migration", 2UL << 20);
        var large = LoadCli.Bytes("--large-size", "BO bytes of a large checkpoint", 256UL << 20);
        var report = new Option<string>("--report") { Description = "directory for report.md, report.csv, report.json and report.html", DefaultValueFactory = _ => "load-report" };
        var formats = new Option<ReportFormat[]>("--format")
        {
            Description = "report files to write (repeat): md, csv, json, html, all, none",
            DefaultValueFactory = _ => [ReportFormat.All],
            CustomParser = r => [.. r.Tokens.Select(t => Enum.TryParse<ReportFormat>(t.Value, ignoreCase: true, out var f) && !int.TryParse(t.Value, out _)
                ? f
                : Refuse(r, $"--format: '{t.Value}' is not one of md, csv, json, html, all, none"))],
        };
        var compare = new Option<string?>("--compare") { Description = "an earlier report.json: show what got faster or slower" };
        var noRaw = new Option<bool>("--no-raw-copy") { Description = "skip the raw copy (dd and loopback TCP) beside each scenario" };
        var work = new Option<string>("--work-dir") { Description = "where the run keeps its images and simulated memory (removed at the end)", DefaultValueFactory = _ => Path.GetTempPath() };
        var gpuckpt = new Option<string?>("--gpuckpt") { Description = "the gpuckpt (apphost or gpuckpt.dll) that runs the nodes of the migrate scenario (default: the one beside this tool)" };

        var command = new Command("run", "run scenarios under load simulations and write the reports")
        {
            scenarios, load, mix, warmUp, maxIterations, iterationTimeout, maxInFlight, window, small, large, report, formats, compare, noRaw, work, gpuckpt,
        };
        command.SetAction(async (parse, token) =>
        {
            var old = parse.GetValue(compare) is { } path ? LoadReport.Read(path) : null;
            var limits = new RunLimits(parse.GetValue(warmUp), parse.GetValue(maxIterations), parse.GetValue(iterationTimeout), parse.GetValue(maxInFlight), parse.GetValue(window));
            var sizes = new ScenarioSizes(parse.GetValue(small), parse.GetValue(large));
            var weights = ParseMix(parse.GetValue(mix)!);
            var chosen = parse.GetValue(scenarios)!.Select(n => ScenarioCatalog.Named(n, sizes, weights)).ToList();
            var started = DateTimeOffset.UtcNow;
            var results = new List<ScenarioResult>();
            await using (var target = await LoadTarget.Start(parse.GetValue(work)!, chosen.Any(s => s.NeedsNodes), parse.GetValue(gpuckpt)))
            {
                foreach (var scenario in chosen)
                {
                    Console.Error.WriteLine($"gpuckpt-load: {scenario.Name}: {string.Join(", then ", parse.GetValue(load)!.Select(l => l.Describe()))}");
                    results.Add(await new ScenarioRunner(scenario, parse.GetValue(load)!, limits, target).Run(!parse.GetValue(noRaw), token));
                }
            }
            var loadReport = new LoadReport("gpuckpt-load " + string.Join(' ', parse.Tokens.Select(t => t.Value)), started,
                $"{Environment.MachineName}, {Environment.ProcessorCount} cores", results);
            var comparison = old is null ? null : Comparison.Of(old, loadReport);
            // Redirected output gets a width that keeps the table's columns whole.
            if (Console.IsOutputRedirected)
            {
                AnsiConsole.Profile.Width = 240;
                AnsiConsole.Profile.Capabilities.Ansi = false;
            }
            ConsoleReport.Write(AnsiConsole.Console, loadReport, comparison);
            var format = parse.GetValue(formats)!.Aggregate(ReportFormat.None, (a, f) => a | f);
            foreach (var file in ReportWriter.Write(parse.GetValue(report)!, format, loadReport, comparison)) Console.WriteLine($"report: {file}");
            return results.Sum(r => r.Iteration.Failed) == 0 ? LoadCli.ExitOk : LoadCli.ExitFailed;
        });
        return command;
    }

    /// <summary>"small-checkpoints=6,round-trip=3": scenario names (not mix itself) with positive weights.</summary>
    public static IReadOnlyList<(string Name, int Weight)> ParseMix(string text)
    {
        var parts = new List<(string, int)>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var pair = part.Split('=');
            if (pair.Length != 2 || !ScenarioCatalog.Names.Contains(pair[0]) || pair[0] == ScenarioCatalog.Mix)
                throw new FormatException($"'{part}' is not NAME=WEIGHT with NAME one of {string.Join(", ", ScenarioCatalog.Names.Where(n => n != ScenarioCatalog.Mix))}");
            if (!int.TryParse(pair[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var w) || w < 1 || w > 1000)
                throw new FormatException($"'{pair[1]}' in '{part}' is not a weight from 1 to 1000");
            parts.Add((pair[0], w));
        }
        return parts.Count > 0 ? parts : throw new FormatException("a mix needs at least one NAME=WEIGHT");
    }

    private static Option<TimeSpan> Duration(string name, string description, TimeSpan fallback, bool allowZero) => new(name)
    {
        Description = description + " (like 30s, 2m, 500ms)",
        DefaultValueFactory = _ => fallback,
        CustomParser = r =>
        {
            var text = r.Tokens.Count == 1 ? r.Tokens[0].Value : "";
            if (LoadSimulation.ParseDuration(text) is { } d && (d > TimeSpan.Zero || allowZero && d == TimeSpan.Zero)) return d;
            r.AddError($"{name}: '{text}' is not a duration (like 30s, 2m, 500ms)");
            return TimeSpan.Zero;
        },
    };

    private static ReportFormat Refuse(System.CommandLine.Parsing.ArgumentResult r, string message)
    {
        r.AddError(message);
        return ReportFormat.None;
    }
}
