namespace Gpuckpt.Engine.Bridge;

/// <summary>The end of a GPU checkpoint: committed (and still paused), or failed with its reason (and unpaused).</summary>
public sealed record BridgeCheckpointOutcome(bool Committed, string Summary);
