namespace Gpuckpt.Actors.Migration;

/// <summary>Every piece a <see cref="TransferSender"/> was given is confirmed by the target (the answer to <see cref="WhenSent"/>).</summary>
public sealed class AllSent
{
    public static readonly AllSent Instance = new();
    private AllSent() { }
}
