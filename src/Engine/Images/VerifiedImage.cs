using Google.Protobuf;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// What a verify read and accepted: the manifest it decoded and every metadata file it parsed, by name. A restore
/// builds on these very objects, not on the files read again: a manifest or a metadata file replaced after the check
/// is never the one restored, and nothing is decoded or parsed twice.
/// </summary>
public sealed record VerifiedImage(ImageManifest Manifest, IReadOnlyDictionary<string, IMessage> Messages);
