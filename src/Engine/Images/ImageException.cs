namespace Gpuckpt.Engine.Images;

/// <summary>
/// An image that is not whole or not well formed: the file, the byte offset in that file (when one is known)
/// and what is wrong. The message reads <c>file: offset n: reason</c>, the form <c>gpuckpt verify</c> prints.
/// </summary>
public sealed class ImageException : Exception
{
    public ImageException(string file, long? offset, string reason, Exception? inner = null)
        : base(offset is { } o ? $"{file}: offset {o}: {reason}" : $"{file}: {reason}", inner)
    {
        File = file;
        Offset = offset;
        Reason = reason;
    }

    /// <summary>The file's name inside the image directory.</summary>
    public string File { get; }

    /// <summary>Byte offset in <see cref="File"/> (counting the 8-byte length prefix), or null for whole-file problems.</summary>
    public long? Offset { get; }

    public string Reason { get; }
}
