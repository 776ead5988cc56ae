namespace Gpuckpt.Engine.Images;

/// <summary>
/// The outcome of verifying an image: whole, or the first failure as file + offset + reason.
/// The counts say how much was checked before the answer.
/// </summary>
public sealed record VerifyResult(
    bool Ok,
    string? File,
    long? Offset,
    string? Reason,
    int FilesChecked,
    long SegmentsChecked,
    long BytesChecked)
{
    /// <summary><c>file: offset n: reason</c>, or "ok".</summary>
    public string Describe() => Ok ? "ok" : Offset is { } o ? $"{File}: offset {o}: {Reason}" : $"{File}: {Reason}";
}
