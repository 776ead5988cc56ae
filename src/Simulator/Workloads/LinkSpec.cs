using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gpuckpt.Simulator.Workloads;

/// <summary>The program mixes <see cref="Target"/> with each of <see cref="Inputs"/>, in order, every step.</summary>
public sealed record LinkSpec
{
    public string Target { get; init; } = "";
    public List<string> Inputs { get; init; } = [];
}
