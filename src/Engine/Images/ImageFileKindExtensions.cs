namespace Gpuckpt.Engine.Images;

public static class ImageFileKindExtensions
{
    /// <summary>Raw contents rather than one protobuf message.</summary>
    public static bool IsPages(this ImageFileKind kind) => kind is ImageFileKind.KfdPages or ImageFileKind.DrmPages;
}
