namespace Gpuckpt.Engine.Bridge;

/// <summary>A message that breaks the bridge protocol, or a lost bridge socket.</summary>
public sealed class BridgeProtocolException(string message) : IOException(message);
