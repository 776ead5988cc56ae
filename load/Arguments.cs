using System.Globalization;

namespace Gpuckpt.Load;

/// <summary>--name value pairs, and --flag alone (a name followed by another name or by nothing).</summary>
public sealed class Arguments
{
    private readonly Dictionary<string, string> _values = new();

    public static Arguments Parse(IEnumerable<string> args)
    {
        var result = new Arguments();
        string? key = null;
        foreach (var a in args)
        {
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                if (key is not null) result._values[key] = "true";
                key = a[2..];
            }
            else if (key is not null) { result._values[key] = a; key = null; }
        }
        if (key is not null) result._values[key] = "true";
        return result;
    }

    public ulong U64(string name, ulong fallback) =>
        _values.TryGetValue(name, out var v) ? ulong.Parse(v, CultureInfo.InvariantCulture) : fallback;

    public string String(string name, string fallback) => _values.GetValueOrDefault(name, fallback);

    public bool Has(string name) => _values.ContainsKey(name);

    public int Int(string name, int fallback) =>
        _values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
}
