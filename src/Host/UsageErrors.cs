using System.Text.RegularExpressions;

namespace Gpuckpt.Host;

/// <summary>The command-line parser's complaints in the user's terms: no .NET type names ('System.UInt32').</summary>
public static partial class UsageErrors
{
    public static string Describe(string message)
    {
        var m = CannotParse().Match(message);
        if (m.Success) return $"{m.Groups["where"].Value}: '{m.Groups["value"].Value}' is not {Expected(m.Groups["type"].Value)}";
        return TypeName().Replace(message, t => Expected(t.Groups[1].Value)).TrimEnd('.');
    }

    private static string Expected(string type)
    {
        var inner = Nullable().Match(type) is { Success: true } n ? n.Groups[1].Value : type;
        return inner switch
        {
            "System.UInt64" => "a whole number from 0 to 18446744073709551615",
            "System.UInt32" => "a whole number from 0 to 4294967295",
            "System.Int32" => "a whole number from -2147483648 to 2147483647",
            "System.Int64" => "a whole number",
            "System.Boolean" => "true or false",
            "System.String" => "a string",
            _ => "a valid value",
        };
    }

    [GeneratedRegex(@"^Cannot parse argument '(?<value>.*)' for (?:option|argument|command) '(?<where>[^']*)' as expected type '(?<type>[^']*)'\.?$")]
    private static partial Regex CannotParse();

    [GeneratedRegex(@"^System\.Nullable`1\[\[?([^,\]]+)")]
    private static partial Regex Nullable();

    [GeneratedRegex(@"'(System\.[A-Za-z0-9_.`\[\], =]+)'")]
    private static partial Regex TypeName();
}
