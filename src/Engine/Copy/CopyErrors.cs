using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Engine.Copy;

/// <summary>How a copy failure reads: the errno by name, what failed, and how many attempts were made.</summary>
public static class CopyErrors
{
    public static string Describe(Exception error, int attempts)
    {
        var errno = RetryPolicy.ErrorNumber(error);
        var name = errno is { } n and > 0 ? Errno.Name(n) : null;
        var text = name is null || error.Message.Contains(name, StringComparison.Ordinal) ? error.Message : $"{name}: {error.Message}";
        return attempts > 1 ? $"{text} (after {attempts} attempts)" : text;
    }
}
