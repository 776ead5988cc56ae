using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gpuckpt.Load.Statistics;

/// <summary>Everything one `gpuckpt-load run` measured: what the JSON report holds and `--compare` reads back.</summary>
public sealed record LoadReport(string Command, DateTimeOffset Started, string Machine, IReadOnlyList<ScenarioResult> Scenarios)
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a report written by <see cref="ToJson"/>; a file that is not one is refused, naming it.</summary>
    public static LoadReport Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<LoadReport>(File.ReadAllText(path), Json) is { Scenarios: not null } report
                ? report
                : throw new InvalidDataException($"{path}: not a gpuckpt-load JSON report");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a gpuckpt-load JSON report ({e.Message})");
        }
    }
}
