namespace Gpuckpt.Engine.Settings;

/// <summary>An environment variable whose value does not parse: bad input, named with its value.</summary>
public sealed class EnvironmentValueException(string message) : Exception(message);
