namespace Gpuckpt.Engine.Bridge;

/// <summary>A step of a bridge restore: done, or failed with its reason (and rolled back, never resumed).</summary>
public sealed record BridgeRestoreOutcome(bool Ok, string Summary);
