using System.Text.RegularExpressions;

namespace Gpuckpt.Host;

/// <summary>
/// Keeps .NET type names out of what a user reads: a message that carries one (an exception's own text, a record
/// printed whole) loses the namespaces and exception class names; --verbose prints the exception as it was.
/// </summary>
public static partial class TypeNames
{
    /// <summary>Whether <paramref name="text"/> names a .NET type: a namespace-qualified name or an exception class.</summary>
    public static bool Named(string text) => Qualified().Matches(text).Any(m => IsTypeName(text, m)) || ExceptionName().IsMatch(text);

    /// <summary><paramref name="text"/> with qualified type names cut to their last part and exception class names dropped.</summary>
    public static string Strip(string text)
    {
        var shorter = Qualified().Replace(text, m => IsTypeName(text, m) ? m.Value[(m.Value.LastIndexOf('.') + 1)..] : m.Value);
        shorter = ExceptionName().Replace(shorter, "");
        return Spaces().Replace(shorter, " ").Trim();
    }

    /// <summary>A file's name or a path's part (Gpuckpt.TestHooks.dll, /opt/Gpuckpt.Engine/) reads like one but is not: the user needs it whole.</summary>
    private static bool IsTypeName(string text, Match m) =>
        !(m.Index > 0 && text[m.Index - 1] is '/' or '\\') && !(m.Index + m.Length < text.Length && text[m.Index + m.Length] is '/' or '\\') &&
        !FileExtensions.Contains(m.Value[(m.Value.LastIndexOf('.') + 1)..]);

    private static readonly HashSet<string> FileExtensions = new(StringComparer.OrdinalIgnoreCase)
        { "dll", "so", "exe", "pdb", "json", "conf", "log", "sock", "crt", "key", "xml", "txt", "db" };

    [GeneratedRegex(@"\b(?:System|Microsoft|Akka|Gpuckpt|Hyperion|Google|Npgsql|Spectre)(?:\.[A-Za-z_][A-Za-z0-9_`]*)+")]
    private static partial Regex Qualified();

    // "IOException: ", "(InvalidOperationException)", "AskTimeoutException" as a word of its own.
    [GeneratedRegex(@"\(?\b[A-Z][A-Za-z0-9]*Exception\b\)?:?")]
    private static partial Regex ExceptionName();

    [GeneratedRegex(@"[ \t]{2,}")]
    private static partial Regex Spaces();
}
