namespace Gpuckpt.Engine.Topology;

/// <summary>No local GPU (or hive) can take an image GPU; the message names the image GPU and the closest reason.</summary>
public sealed class TopologyMismatchException(uint imageGpuId, string message) : Exception(message)
{
    /// <summary>user_gpu_id of the image GPU that could not be placed.</summary>
    public uint ImageGpuId { get; } = imageGpuId;
}
