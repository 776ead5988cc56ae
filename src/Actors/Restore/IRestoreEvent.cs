namespace Gpuckpt.Actors.Restore;

/// <summary>What a restore job journals: enough to finish it, or undo and redo it, after the engine is killed.</summary>
public interface IRestoreEvent;
