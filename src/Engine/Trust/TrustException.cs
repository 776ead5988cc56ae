namespace Gpuckpt.Engine.Trust;

/// <summary>A cluster's CA or an identity could not be made, found or trusted; the message says what to do.</summary>
public sealed class TrustException(string message) : Exception(message);
