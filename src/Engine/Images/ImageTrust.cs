namespace Gpuckpt.Engine.Images;

/// <summary>
/// How a node treats image signatures: the key it signs and checks with (null: none), and whether it refuses an image
/// that is not signed with that key (the cluster default).
/// </summary>
public sealed record ImageTrust(ImageKey? Key, bool Sign, bool Require)
{
    public static readonly ImageTrust None = new(null, false, false);
}
