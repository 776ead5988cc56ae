using System.Text.Json.Serialization;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// The manifests' serialization metadata, and that of the parts a signature covers, generated at build time (and
/// precompiled with the rest of the engine) rather than built by reflection the first time a process reads, writes or
/// signs a manifest. The options match <see cref="ManifestCodec.Json"/>, which uses this context and falls back to
/// reflection for any other type.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ImageManifest))]
[JsonSerializable(typeof(ProcessManifest))]
[JsonSerializable(typeof(ImageSignature.SignedIdentity))]
[JsonSerializable(typeof(ImageSignature.SignedFiles))]
[JsonSerializable(typeof(List<KeyValuePair<string, string>>))]
[JsonSerializable(typeof(List<Topology.GpuNode>))]
[JsonSerializable(typeof(Topology.GpuNode[]))]
[JsonSerializable(typeof(List<ImageLink>))]
[JsonSerializable(typeof(ImageLink[]))]
internal sealed partial class ManifestJsonContext : JsonSerializerContext;
