using System.Text.Json.Serialization;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// The manifests' serialization metadata, generated at build time (and precompiled with the rest of the engine) rather
/// than built by reflection the first time a process reads or writes a manifest. The options match
/// <see cref="ManifestCodec.Json"/>, which uses this context and falls back to reflection for any other type.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ImageManifest))]
[JsonSerializable(typeof(ProcessManifest))]
internal sealed partial class ManifestJsonContext : JsonSerializerContext;
