using Google.Protobuf;
using Gpuckpt.Engine.Images.Proto;

namespace Gpuckpt.Engine.Images;

/// <summary>Decoding of the protobuf .img files: the length prefix, then one message.</summary>
public static class MessageFiles
{
    /// <summary>Message files are metadata (a KFD file of 100 000 BOs is a few MiB): anything larger is refused unread.</summary>
    public const long MaxFileSize = 256L << 20;

    /// <summary>The parser for a message file kind; null for raw pages.</summary>
    public static MessageParser? ParserFor(ImageFileKind kind) => kind switch
    {
        ImageFileKind.Kfd => CriuKfd.Parser,
        ImageFileKind.RenderNode => CriuRenderNode.Parser,
        ImageFileKind.Dmabuf => CriuDmabufNode.Parser,
        _ => null,
    };

    public static T Parse<T>(string fileName, ReadOnlySpan<byte> file, MessageParser<T> parser) where T : IMessage<T> =>
        (T)ParseAny(fileName, file, parser);

    /// <summary>Checks the prefix against the file's length and parses the payload; errors name file and offset.</summary>
    public static IMessage ParseAny(string fileName, ReadOnlySpan<byte> file, MessageParser parser)
    {
        if (file.Length < LengthPrefix.Size)
            throw new ImageException(fileName, file.Length, $"only {file.Length} bytes, shorter than the 8-byte length prefix");
        var length = LengthPrefix.Read(file);
        if (length != file.Length - LengthPrefix.Size)
            throw new ImageException(fileName, 0, $"length prefix says {length} payload bytes, the file holds {file.Length - LengthPrefix.Size}");
        IMessage message;
        try
        {
            message = parser.ParseFrom(file[LengthPrefix.Size..]);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ImageException(fileName, LengthPrefix.Size, $"payload is not a valid protobuf message: {e.Message}", e);
        }
        var missing = RequiredFields.Missing(message);
        if (missing.Count > 0)
            throw new ImageException(fileName, LengthPrefix.Size, $"required fields missing: {string.Join(", ", missing)}");
        return message;
    }
}
