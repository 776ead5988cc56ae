namespace Gpuckpt.Engine.Images;

/// <summary>Where an image stands. Only a committed image may be restored.</summary>
public enum ImageState
{
    /// <summary>Being written, or its writer died: never restorable.</summary>
    InProgress,

    /// <summary>Every file written, fsynced and listed with its checksums.</summary>
    Committed,

    /// <summary>The writer gave up; the manifest says why.</summary>
    Failed,
}
