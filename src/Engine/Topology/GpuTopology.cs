using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gpuckpt.Engine.Topology;

/// <summary>A machine's GPUs and CPU nodes, as a topology file holds them: {"gpus":[{...}, ...], "cpus":[...]}.</summary>
public sealed record GpuTopology(IReadOnlyList<GpuNode> Gpus)
{
    /// <summary>The CPU nodes (absent from older topology files: none).</summary>
    public IReadOnlyList<CpuNode> Cpus { get; init; } = [];

    public static GpuTopology Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<GpuTopology>(File.ReadAllText(path), GpuNode.Json)
                   ?? throw new InvalidDataException($"{path}: empty topology file");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a topology file: {e.Message}", e);
        }
    }

    public string ToJson() => JsonSerializer.Serialize(this, GpuNode.Json);
}
