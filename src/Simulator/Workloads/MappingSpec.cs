using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gpuckpt.Simulator.Workloads;

/// <summary>A GPU VM mapping of part of a render BO (byte offset and size, page multiples).</summary>
public sealed record MappingSpec
{
    public ulong Offset { get; init; }
    public ulong Size { get; init; } = 4096;
    public uint Flags { get; init; } = Engine.Uapi.AmdgpuGem.VmPageReadable | Engine.Uapi.AmdgpuGem.VmPageWriteable;
}
