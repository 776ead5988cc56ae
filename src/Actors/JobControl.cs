namespace Gpuckpt.Actors;

/// <summary>What a user asks of a journalled job that is not running (`gpuckpt resume`, `abort`, `forget`).</summary>
public enum JobControl
{
    /// <summary>Continue it from where the journal says it stopped.</summary>
    Resume,

    /// <summary>Stop it: unpause its source once, remove its partial image or partially restored process, end it as aborted.</summary>
    Abort,

    /// <summary>End it as forgotten without touching a device or an image (its process or device is gone).</summary>
    Forget,
}
