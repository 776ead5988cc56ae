using System.Globalization;

namespace Gpuckpt.Engine.Settings;

/// <summary>Numbers read from environment variables: a value that does not parse is refused naming the variable, never ignored.</summary>
public static class EnvironmentValues
{
    /// <summary>A TCP port (0 to 65535) from <paramref name="name"/>, or null when it is unset or empty.</summary>
    public static int? Port(string name, Func<string, string?> environment)
    {
        if (environment(name) is not { Length: > 0 } text) return null;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535
            ? port
            : throw new EnvironmentValueException($"{name}={text} is not a port number (0 to 65535)");
    }

    /// <summary>A positive number of seconds from <paramref name="name"/>, or null when it is unset or empty.</summary>
    public static TimeSpan? Seconds(string name, Func<string, string?> environment)
    {
        if (environment(name) is not { Length: > 0 } text) return null;
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 && s < TimeSpan.MaxValue.TotalSeconds
            ? TimeSpan.FromSeconds(s)
            : throw new EnvironmentValueException($"{name}={text} is not a positive number of seconds");
    }
}
