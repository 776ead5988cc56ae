using System.Globalization;

namespace Gpuckpt.Load.Scenarios;

/// <summary>
/// How iterations are started during one phase of a scenario: a number of copies kept busy (constant or ramped), or
/// iterations injected at a rate per second (constant or ramped). Written on the command line as
/// `constant:COPIES:DURATION`, `ramp-constant:FROM:TO:DURATION`, `inject:RATE:DURATION` or `ramp:FROM:TO:DURATION`
/// (a rate per second ramped up or down), durations as `30s`, `2m` or `500ms`.
/// </summary>
public abstract record LoadSimulation(TimeSpan During)
{
    public const string Syntax = "constant:COPIES:DURATION, ramp-constant:FROM:TO:DURATION, inject:RATE:DURATION or ramp:FROM:TO:DURATION";

    public abstract string Describe();

    /// <summary>As written on the command line ("constant:2:30s").</summary>
    public abstract string Spec();

    public sealed override string ToString() => Spec();

    /// <summary>The same shape held at its starting level: what the warm-up runs.</summary>
    public abstract LoadSimulation WarmUp(TimeSpan during);

    public static LoadSimulation Parse(string text)
    {
        var parts = text.Split(':');
        LoadSimulation? simulation = (parts[0], parts.Length) switch
        {
            ("constant", 3) => new KeepConstant(Count(parts[1]), Duration(parts[2])),
            ("ramp-constant", 4) => new RampingConstant(Count(parts[1], allowZero: true), Count(parts[2], allowZero: true), Duration(parts[3])),
            ("inject", 3) => new Inject(Rate(parts[1]), Duration(parts[2])),
            ("ramp", 4) => new RampingInject(Rate(parts[1], allowZero: true), Rate(parts[2], allowZero: true), Duration(parts[3])),
            _ => null,
        };
        return simulation ?? throw new FormatException($"'{text}' is not a load simulation (expected {Syntax})");

        int Count(string s, bool allowZero = false) =>
            int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && (n > 0 || allowZero && n == 0) && n <= 1024
                ? n
                : throw new FormatException($"'{s}' in '{text}' is not a number of copies ({(allowZero ? 0 : 1)} to 1024)");

        double Rate(string s, bool allowZero = false) =>
            double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var r) && (r > 0 || allowZero && r == 0) && r <= 10_000
                ? r
                : throw new FormatException($"'{s}' in '{text}' is not a rate per second ({(allowZero ? "0" : "above 0")} to 10000)");

        TimeSpan Duration(string s) =>
            ParseDuration(s) is { } d && d > TimeSpan.Zero
                ? d
                : throw new FormatException($"'{s}' in '{text}' is not a duration (e.g. 30s, 2m, 500ms)");
    }

    /// <summary>"30s", "2m", "500ms", "1h"; null when it is none of those.</summary>
    public static TimeSpan? ParseDuration(string s)
    {
        foreach (var (suffix, unit) in (ReadOnlySpan<(string, double)>)[("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)])
            if (s.EndsWith(suffix, StringComparison.Ordinal) && double.TryParse(s[..^suffix.Length], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var v))
                return TimeSpan.FromSeconds(v * unit);
        return null;
    }

    protected static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";
}
