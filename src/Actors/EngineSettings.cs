using Akka.Configuration;
using Gpuckpt.Engine.Copy;

namespace Gpuckpt.Actors;

/// <summary>The engine's knobs, read from the <c>gpuckpt</c> section of the HOCON.</summary>
/// <param name="WorkersPerDevice">At most this many chunks of one device are in flight (the device's copy slots).</param>
public sealed record EngineSettings(int ChunkSize, int PoolChunks, int WorkersPerDevice, TimeSpan OpTimeout)
{
    /// <summary>A job snapshots its state after this many events, so that recovery replays few.</summary>
    public int SnapshotEvery { get; init; } = 1000;

    /// <summary>Progress events (chunks landed) journalled in one write.</summary>
    public int JournalBatch { get; init; } = 64;

    /// <summary>How long a progress event waits at most for others to share its journal write.</summary>
    public TimeSpan JournalFlush { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How long a step that timed out and was cancelled is waited for before the job gives up on it.</summary>
    public TimeSpan StepCancelGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>One attempt at one side of a chunk (a BO's piece, or the file's write or read) may take this long before it is cancelled and retried.</summary>
    public TimeSpan ChunkTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How transient chunk faults are retried.</summary>
    public RetryPolicy Retry { get; init; } = new(3, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1));

    /// <summary>Dedicated threads that run the copy's blocking I/O (mapping reads and writes, hashing, file writes and reads, driver calls).</summary>
    public int IoThreads { get; init; } = 8;

    /// <summary>Faults injected into the copy (tests only; none unless gpuckpt.copy.faults is set).</summary>
    public ChunkFaults Faults { get; init; } = ChunkFaults.None;

    /// <summary>When on, every job, device and BO actor publishes <see cref="Copy.ActorStartedAt"/> (the actor-tree spec listens).</summary>
    public bool PublishActorTree { get; init; }

    public static EngineSettings From(Config config)
    {
        var c = config.GetConfig("gpuckpt.copy") ?? throw new ConfigurationException("missing gpuckpt.copy section");
        var chunk = c.GetByteSize("chunk-size") ?? throw new ConfigurationException("gpuckpt.copy.chunk-size is required");
        if (chunk <= 0 || chunk > int.MaxValue || chunk % 4096 != 0)
            throw new ConfigurationException($"gpuckpt.copy.chunk-size must be a positive multiple of 4096, was {chunk}");
        return new EngineSettings(
            (int)chunk,
            c.GetInt("pool-chunks", 32),
            Math.Max(1, c.GetInt("workers-per-device", 4)),
            config.GetTimeSpan("gpuckpt.op-timeout", TimeSpan.FromMinutes(2)))
        {
            SnapshotEvery = Math.Max(1, config.GetInt("gpuckpt.jobs.snapshot-every", 1000)),
            StepCancelGrace = config.GetTimeSpan("gpuckpt.jobs.step-cancel-grace", TimeSpan.FromSeconds(10)),
            JournalBatch = Math.Max(1, config.GetInt("gpuckpt.jobs.journal-batch", 64)),
            JournalFlush = config.GetTimeSpan("gpuckpt.jobs.journal-flush", TimeSpan.FromMilliseconds(100)),
            ChunkTimeout = c.GetTimeSpan("chunk-timeout", TimeSpan.FromSeconds(60)),
            Retry = new RetryPolicy(
                Math.Max(0, c.GetInt("retry.max-retries", 3)),
                c.GetTimeSpan("retry.first-backoff", TimeSpan.FromMilliseconds(10)),
                c.GetTimeSpan("retry.max-backoff", TimeSpan.FromSeconds(1))),
            Faults = ParseFaults(c),
            PublishActorTree = c.GetBoolean("publish-actor-tree", false),
            IoThreads = Math.Max(1, c.GetInt("io-threads", 8)),
        };
    }

    /// <summary>gpuckpt.copy.faults = [{ device = "GPU 0x10", chunk = 3, side = file, error = EIO, times = 1 }]: tests only.</summary>
    private static ChunkFaults ParseFaults(Config copy)
    {
        if (!copy.HasPath("faults")) return ChunkFaults.None;
        var faults = copy.GetValue("faults").GetArray().Select(v => v.GetObject()).Select(o => new ChunkFault(
            o.GetKey("device").GetString(),
            o.GetKey("chunk").GetInt(),
            Enum.Parse<FaultSide>(o.GetKey("side").GetString(), ignoreCase: true),
            ChunkFaults.ParseError(o.GetKey("error").GetString()),
            o.GetKey("times").GetInt())).ToList();
        return new ChunkFaults(faults);
    }
}
