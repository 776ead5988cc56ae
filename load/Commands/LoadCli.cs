using System.CommandLine;
using System.CommandLine.Parsing;
using Gpuckpt.Host;

namespace Gpuckpt.Load.Commands;

/// <summary>The root command, and how a run ends: bad input is one line on stderr and exit 2, a failure one line and exit 1.</summary>
public static class LoadCli
{
    public const int ExitOk = 0, ExitFailed = 1, ExitBadInput = 2;

    public static RootCommand Root() => new("gpuckpt-load: load tests of the gpuckpt engine on simulated GPUs, on this machine only (127.0.0.1)")
    {
        RunCommand.Create(),
        BenchCommand.Create(),
        JobsCommand.Create(),
        MigrateCommand.Create(),
        CliCommand.Create(),
        AllCommand.Create(),
    };

    public static async Task<int> InvokeAsync(string[] args)
    {
        var root = Root();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            var message = string.Join(' ', UsageErrors.Describe(parse.Errors[0].Message).Split((char[])['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            Console.Error.WriteLine($"gpuckpt-load: {message} (see gpuckpt-load {CommandPath(parse)}--help)");
            return ExitBadInput;
        }
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            var inner = e is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerException! : e;
            Console.Error.WriteLine($"gpuckpt-load: {inner.Message}");
            if (Environment.GetEnvironmentVariable("GPUCKPT_TRACE") == "1") Console.Error.WriteLine(inner);
            return inner is InvalidDataException or FileNotFoundException or DirectoryNotFoundException or FormatException ? ExitBadInput : ExitFailed;
        }
    }

    private static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var r = parse.CommandResult; r.Parent is CommandResult parent; r = parent) names.Insert(0, r.Command.Name);
        return names.Count == 0 ? "" : string.Join(' ', names) + " ";
    }

    /// <summary>An int option that refuses values outside [min, max], naming the option.</summary>
    public static Option<int> Int(string name, string description, int fallback, int min, int max)
    {
        return new Option<int>(name)
        {
            Description = description,
            DefaultValueFactory = _ => fallback,
            CustomParser = r =>
            {
                var text = r.Tokens.Count == 1 ? r.Tokens[0].Value : "";
                if (int.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var v) && v >= min && v <= max) return v;
                r.AddError($"{name}: '{text}' is not a whole number from {min} to {max}");
                return fallback;
            },
        };
    }

    /// <summary>A byte count (at least one 4 KiB page), written as a number or with KiB, MiB or GiB.</summary>
    public static Option<ulong> Bytes(string name, string description, ulong fallback) => new(name)
    {
        Description = description + " (bytes; KiB, MiB, GiB accepted)",
        DefaultValueFactory = _ => fallback,
        CustomParser = r =>
        {
            var text = r.Tokens.Count == 1 ? r.Tokens[0].Value : "";
            if (ParseBytes(text) is { } v && v >= 4096) return v;
            r.AddError($"{name}: '{text}' is not a size of at least 4096 bytes (e.g. 2MiB, 1GiB, 1048576)");
            return 0;
        },
    };

    public static ulong? ParseBytes(string text)
    {
        foreach (var (suffix, unit) in (ReadOnlySpan<(string, ulong)>)[("KiB", 1UL << 10), ("MiB", 1UL << 20), ("GiB", 1UL << 30), ("", 1)])
            if (text.EndsWith(suffix, StringComparison.Ordinal)
                && ulong.TryParse(text[..^suffix.Length], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n)
                && n <= ulong.MaxValue / unit)
                return n * unit;
        return null;
    }
}
