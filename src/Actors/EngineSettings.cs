using Akka.Configuration;
using Gpuckpt.Engine.Copy;

namespace Gpuckpt.Actors;

/// <summary>The engine's knobs, read from the <c>gpuckpt</c> section of the HOCON.</summary>
/// <param name="WorkersPerDevice">At most this many chunks of one device are in flight (the device's copy slots).</param>
public sealed record EngineSettings(int ChunkSize, int PoolChunks, int WorkersPerDevice, TimeSpan OpTimeout)
{
    /// <summary>A job snapshots its state after this many events, so that recovery replays few.</summary>
    public int SnapshotEvery { get; init; } = 10000;

    /// <summary>Progress events (chunks landed) journalled in one write.</summary>
    public int JournalBatch { get; init; } = 64;

    /// <summary>How long a progress event waits at most for others to share its journal write.</summary>
    public TimeSpan JournalFlush { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How long a step that timed out and was cancelled is waited for before the job gives up on it.</summary>
    public TimeSpan StepCancelGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often UNPAUSE is tried when the driver answers with a transient error (EIO, EAGAIN, EINTR, EBUSY).</summary>
    public int UnpauseAttempts { get; init; } = 3;

    /// <summary>Whether images are signed with the node key on commit, and whether restores refuse unsigned ones.</summary>
    public Gpuckpt.Engine.Images.ImageTrust Trust { get; init; } = Gpuckpt.Engine.Images.ImageTrust.None;

    /// <summary>One attempt at one side of a chunk (a BO's piece, or the file's write or read) may take this long before it is cancelled and retried.</summary>
    public TimeSpan ChunkTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How transient chunk faults are retried.</summary>
    public RetryPolicy Retry { get; init; } = new(3, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1));

    /// <summary>Dedicated threads that run the copy's blocking I/O (mapping reads and writes, hashing, file writes and reads, driver calls).</summary>
    public int IoThreads { get; init; } = 8;

    /// <summary>Page files of 1 MiB and more are written with O_DIRECT, past the page cache, where the filesystem allows.</summary>
    public bool DirectIo { get; init; } = true;

    /// <summary>
    /// A restore reads page files with O_DIRECT too; off (the default), it reads them through the page cache, with the
    /// kernel's readahead, and drops each range from the cache once it is checked.
    /// </summary>
    public bool DirectReads { get; init; }

    /// <summary>Faults injected into the copy (tests only; none unless gpuckpt.copy.faults is set).</summary>
    public ChunkFaults Faults { get; init; } = ChunkFaults.None;

    /// <summary>How a client waits on a job's answer (gpuckpt.jobs.wait).</summary>
    public JobWaitSettings Wait { get; init; } = JobWaitSettings.Default;

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
            SnapshotEvery = Math.Max(1, config.GetInt("gpuckpt.jobs.snapshot-every", 10000)),
            StepCancelGrace = config.GetTimeSpan("gpuckpt.jobs.step-cancel-grace", TimeSpan.FromSeconds(10)),
            JournalBatch = Math.Max(1, config.GetInt("gpuckpt.jobs.journal-batch", 64)),
            JournalFlush = config.GetTimeSpan("gpuckpt.jobs.journal-flush", TimeSpan.FromMilliseconds(100)),
            UnpauseAttempts = Math.Max(1, config.GetInt("gpuckpt.jobs.unpause-attempts", 3)),
            Trust = LoadTrust(config),
            ChunkTimeout = c.GetTimeSpan("chunk-timeout", TimeSpan.FromSeconds(60)),
            Retry = new RetryPolicy(
                Math.Max(0, c.GetInt("retry.max-retries", 3)),
                c.GetTimeSpan("retry.first-backoff", TimeSpan.FromMilliseconds(10)),
                c.GetTimeSpan("retry.max-backoff", TimeSpan.FromSeconds(1))),
            Faults = ParseFaults(c),
            PublishActorTree = c.GetBoolean("publish-actor-tree", false),
            IoThreads = Math.Max(1, c.GetInt("io-threads", 8)),
            DirectIo = c.GetBoolean("direct-io", true),
            DirectReads = c.GetBoolean("direct-reads", false),
            Wait = JobWaitSettings.From(config),
        };
    }

    /// <summary>
    /// gpuckpt.images.sign / require-signature (or $GPUCKPT_SIGN_IMAGES / $GPUCKPT_REQUIRE_SIGNED_IMAGES = 1); the key
    /// from gpuckpt.images.key-file, else $GPUCKPT_IMAGE_KEY_FILE, else image.key in the state directory (made 0600 when absent).
    /// </summary>
    public static Gpuckpt.Engine.Images.ImageTrust LoadTrust(Config config, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var sign = config.GetBoolean("gpuckpt.images.sign", false) || environment("GPUCKPT_SIGN_IMAGES") == "1";
        var require = config.GetBoolean("gpuckpt.images.require-signature", false) || environment("GPUCKPT_REQUIRE_SIGNED_IMAGES") == "1";
        if (!sign && !require) return Gpuckpt.Engine.Images.ImageTrust.None;
        var path = config.GetString("gpuckpt.images.key-file", "") is { Length: > 0 } file ? file
            : environment("GPUCKPT_IMAGE_KEY_FILE") is { Length: > 0 } variable ? variable
            : Path.Combine(config.GetString("gpuckpt.state-dir", "") is { Length: > 0 } state ? state : Persistence.JournalConfig.DefaultStateDir(), "image.key");
        // A key only checked with (another engine's, named by the user) must exist; one signed with is made on first use.
        var key = sign ? Gpuckpt.Engine.Images.ImageKey.LoadOrCreate(path) : Gpuckpt.Engine.Images.ImageKey.Load(path);
        return new Gpuckpt.Engine.Images.ImageTrust(key, sign, require);
    }

    /// <summary>
    /// gpuckpt.copy.faults = [{ device = "GPU 0x10", chunk = 3, side = file, error = EIO, times = 1 }], or with
    /// bo = "KFD BO #7" instead of chunk, every chunk that carries a piece of that BO: tests only.
    /// </summary>
    private static ChunkFaults ParseFaults(Config copy)
    {
        if (!copy.HasPath("faults")) return ChunkFaults.None;
        var faults = copy.GetValue("faults").GetArray().Select(v => v.GetObject()).Select(o =>
        {
            var device = o.GetKey("device").GetString();
            var side = Enum.Parse<FaultSide>(o.GetKey("side").GetString(), ignoreCase: true);
            var error = ChunkFaults.ParseError(o.GetKey("error").GetString());
            var times = o.GetKey("times").GetInt();
            var bo = o.Items.TryGetValue("bo", out var named) ? named.GetString() : null;
            var chunk = o.Items.TryGetValue("chunk", out var index) ? index.GetInt() : (int?)null;
            return (bo, chunk) switch
            {
                (null, { } c) => new ChunkFault(device, c, side, error, times),
                ({ } b, null) => ChunkFault.OnBo(device, b, side, error, times),
                _ => throw new ConfigurationException($"gpuckpt.copy.faults: a fault on {device} names either a chunk or a bo, not {(bo is null ? "neither" : "both")}"),
            };
        }).ToList();
        return new ChunkFaults(faults);
    }
}
