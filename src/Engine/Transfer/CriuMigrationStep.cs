namespace Gpuckpt.Engine.Transfer;

/// <summary>Where a whole-process migration's source stands; each step decides what a restarted node does.</summary>
public enum CriuMigrationStep
{
    /// <summary>The target said it can restore; the dump may have begun. Restarted: the process still runs (untouched) or its dump is whole (go on) or neither.</summary>
    Dumping,

    /// <summary>The dump verified; the process no longer runs here. Restarted: send the image again, or restore it here.</summary>
    Dumped,

    /// <summary>The target was asked to restore. Restarted: only the target can say whether the process runs there.</summary>
    Restoring,
}
