using Akka.Configuration;

namespace Gpuckpt.Actors;

/// <summary>The engine's knobs, read from the <c>gpuckpt</c> section of the HOCON.</summary>
public sealed record EngineSettings(int ChunkSize, int PoolChunks, int WorkersPerDevice, TimeSpan OpTimeout)
{
    /// <summary>A job snapshots its state after this many events, so that recovery replays few.</summary>
    public int SnapshotEvery { get; init; } = 1000;

    /// <summary>How long a step that timed out and was cancelled is waited for before the job gives up on it.</summary>
    public TimeSpan StepCancelGrace { get; init; } = TimeSpan.FromSeconds(10);

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
            config.GetTimeSpan("gpuckpt.op-timeout", TimeSpan.FromMinutes(2)))
        {
            SnapshotEvery = Math.Max(1, config.GetInt("gpuckpt.jobs.snapshot-every", 1000)),
            StepCancelGrace = config.GetTimeSpan("gpuckpt.jobs.step-cancel-grace", TimeSpan.FromSeconds(10)),
        };
    }

}
