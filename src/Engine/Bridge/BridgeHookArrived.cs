namespace Gpuckpt.Engine.Bridge;

/// <summary>A hook as it reached the engine: its arguments and the fd CRIU passed with it (-1 if none; the receiver closes it).</summary>
public sealed record BridgeHookArrived(BridgeHookCall Call, int Fd);
