using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gpuckpt.Simulator.Workloads;

/// <summary>
/// A workload as data (the --spec file format): GPUs, KFD BOs, render BOs with their VM mappings and imports, and
/// the links the program mixes every step. BO references are "kfd:N" / "render:N" (indices in the lists).
/// <code>
/// {"gpus":2,
///  "kfd_bos":[{"gpu":0,"domain":"vram","size":65536}, {"gpu":1,"domain":"doorbell","size":8192}],
///  "render_bos":[{"gpu":1,"import":"kfd:0","mappings":[{"offset":0,"size":65536}]},
///                {"gpu":0,"domain":"gtt","size":8192,"mappings":[{"offset":0,"size":4096},{"offset":4096,"size":4096}]}],
///  "links":[{"target":"kfd:0","inputs":["render:1"]},{"target":"render:1","inputs":["render:0"]}],
///  "priv_data_size":4096,"queues":2,"events":2}
/// </code>
/// Without "links", every writable BO is mixed with the BO listed before it.
/// </summary>
public sealed record WorkloadSpec
{
    public int Gpus { get; init; } = 1;
    public List<KfdBoSpec> KfdBos { get; init; } = [];
    public List<RenderBoSpec> RenderBos { get; init; } = [];
    public List<LinkSpec>? Links { get; init; }
    public int PrivDataSize { get; init; } = 4096;
    public uint Queues { get; init; } = 1;
    public uint Events { get; init; } = 1;

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    public static WorkloadSpec Parse(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<WorkloadSpec>(json, Json) ?? throw new InvalidDataException("workload spec: empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"workload spec: {e.Message}", e);
        }
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
