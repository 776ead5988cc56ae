namespace Gpuckpt.Actors.Migration;

/// <summary>
/// Asks a <see cref="TransferSender"/> for <see cref="AllSent"/> once every piece given to it so far is confirmed by the
/// target: a live copy's next round may then write the same places of the source image again.
/// </summary>
public sealed class WhenSent
{
    public static readonly WhenSent Instance = new();
    private WhenSent() { }
}
