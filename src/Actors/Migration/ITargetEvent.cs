namespace Gpuckpt.Actors.Migration;

/// <summary>What the target side of a migration journals: enough to finish or discard it after its engine restarts.</summary>
public interface ITargetEvent;
