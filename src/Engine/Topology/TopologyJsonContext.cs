using System.Text.Json.Serialization;

namespace Gpuckpt.Engine.Topology;

/// <summary>
/// Topology JSON metadata generated at build time: every command that asks a driver for its GPUs reads one, and
/// building the metadata by reflection cost the first read tens of milliseconds. The options match <see cref="GpuNode.Json"/>.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(GpuTopology))]
internal sealed partial class TopologyJsonContext : JsonSerializerContext;
