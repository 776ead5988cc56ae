using Akka.Configuration;

namespace Gpuckpt.Actors;

/// <summary>The engine's knobs, read from the <c>gpuckpt</c> section of the HOCON.</summary>
public sealed record EngineSettings(int ChunkSize, int PoolChunks, int WorkersPerDevice, TimeSpan OpTimeout)
{
    public static EngineSettings From(Config config)
    {
        var c = config.GetConfig("gpuckpt.copy") ?? throw new ConfigurationException("missing gpuckpt.copy section");
        var chunk = c.GetByteSize("chunk-size") ?? throw new ConfigurationException("gpuckpt.copy.chunk-size is required");
        if (chunk <= 0 || chunk > int.MaxValue || chunk % 4096 != 0)
            throw new ConfigurationException($"gpuckpt.copy.chunk-size must be a positive multiple of 4096, was {chunk}");
        return new EngineSettings(
            (int)chunk,
            c.GetInt("pool-chunks", 32),
            c.GetInt("workers-per-device", 4),
            config.GetTimeSpan("gpuckpt.op-timeout", TimeSpan.FromMinutes(2)));
    }

}
