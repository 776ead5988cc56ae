using System.Text.Json;
using System.Text.RegularExpressions;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// A JSON reader's complaint in the user's words: the JSON path it stopped at and what was wrong, with .NET type
/// names (System.Int64, Gpuckpt.Engine.Images.ImageLink) replaced by what the file should have held.
/// </summary>
internal static partial class JsonProblem
{
    public static string Describe(Exception e)
    {
        var path = e is JsonException { Path: { } p } ? p : null;
        var text = e.Message;
        if (text.Contains("type discriminator", StringComparison.Ordinal)) text = "an entry without a known \"type\"";
        else if (text.Contains("missing required properties", StringComparison.Ordinal))
            text = "missing required member(s) " + string.Join(", ", RequiredName().Matches(text).Select(m => m.Groups[1].Value));
        text = TypeName().Replace(PathSuffix().Replace(text, ""), m => Friendly(m.Groups[1].Value));
        return path is null ? text.TrimEnd('.') : $"at {path}: {text.TrimEnd('.')}";
    }

    private static string Friendly(string type) => type switch
    {
        "Int64" or "UInt64" or "Int32" or "UInt32" or "Int16" or "UInt16" or "Byte" => "a whole number in range",
        "String" => "a string",
        "Boolean" => "true or false",
        "DateTimeOffset" or "DateTime" => "a date",
        "Nullable`1" => "a value or null",
        "IReadOnlyList`1" or "List`1" or "IEnumerable`1" => "a list",
        "IReadOnlyDictionary`2" or "Dictionary`2" => "an object of strings",
        _ when type.EndsWith("Converter", StringComparison.Ordinal) => "a valid value",
        _ => "a " + SnakeCase(type[(type.LastIndexOf('.') + 1)..]),
    };

    private static string SnakeCase(string name) => JsonNamingPolicy.SnakeCaseLower.ConvertName(name);

    [GeneratedRegex(@"'?(?:System|Gpuckpt)(?:\.[A-Za-z0-9_`]+)*\.([A-Za-z0-9_`]+)(?:\[[^\]]*\])?'?")]
    private static partial Regex TypeName();

    [GeneratedRegex(@"\s*(Path: .*|LineNumber: .*)$")]
    private static partial Regex PathSuffix();

    [GeneratedRegex(@"'([a-z_]+)'")]
    private static partial Regex RequiredName();
}
