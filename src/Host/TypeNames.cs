using System.Text.RegularExpressions;

namespace Gpuckpt.Host;

/// <summary>
/// Keeps .NET type names out of what a user reads: a message that carries one (an exception's own text, a record
/// printed whole) loses the namespaces and exception class names; --verbose prints the exception as it was.
/// </summary>
public static partial class TypeNames
{
    /// <summary>Whether <paramref name="text"/> names a .NET type: a namespace-qualified name or an exception class.</summary>
    public static bool Named(string text) => Qualified().IsMatch(text) || ExceptionName().IsMatch(text);

    /// <summary><paramref name="text"/> with qualified type names cut to their last part and exception class names dropped.</summary>
    public static string Strip(string text)
    {
        var shorter = Qualified().Replace(text, m => m.Value[(m.Value.LastIndexOf('.') + 1)..]);
        shorter = ExceptionName().Replace(shorter, "");
        return Spaces().Replace(shorter, " ").Trim();
    }

    [GeneratedRegex(@"\b(?:System|Microsoft|Akka|Gpuckpt|Hyperion|Google|Npgsql|Spectre)(?:\.[A-Za-z_][A-Za-z0-9_`]*)+")]
    private static partial Regex Qualified();

    // "IOException: ", "(InvalidOperationException)", "AskTimeoutException" as a word of its own.
    [GeneratedRegex(@"\(?\b[A-Z][A-Za-z0-9]*Exception\b\)?:?")]
    private static partial Regex ExceptionName();

    [GeneratedRegex(@"[ \t]{2,}")]
    private static partial Regex Spaces();
}
