namespace Gpuckpt.Actors;

/// <summary>A value written into HOCON text that the engine parses (paths, names, addresses).</summary>
public static class HoconString
{
    /// <summary><paramref name="value"/> as a quoted HOCON string: backslashes and quotes escaped, nothing else read into it.</summary>
    public static string Quote(string value) =>
        "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
