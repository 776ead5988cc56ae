using Akka.Configuration;

namespace Gpuckpt.Actors;

/// <summary>The engine's knobs, read from the <c>gpuckpt</c> section of the HOCON.</summary>
public sealed record EngineSettings(int ChunkSize, int PoolChunks, int WorkersPerDevice, TimeSpan OpTimeout)
{
    /// <summary>A job snapshots its state after this many events, so that recovery replays few.</summary>
    public int SnapshotEvery { get; init; } = 1000;

    /// <summary>How long a step that timed out and was cancelled is waited for before the job gives up on it.</summary>
    public TimeSpan StepCancelGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often UNPAUSE is tried when the driver answers with a transient error (EIO, EAGAIN, EINTR, EBUSY).</summary>
    public int UnpauseAttempts { get; init; } = 3;

    /// <summary>Whether images are signed with the node key on commit, and whether restores refuse unsigned ones.</summary>
    public Gpuckpt.Engine.Images.ImageTrust Trust { get; init; } = Gpuckpt.Engine.Images.ImageTrust.None;

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
            UnpauseAttempts = Math.Max(1, config.GetInt("gpuckpt.jobs.unpause-attempts", 3)),
            Trust = LoadTrust(config),
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
        return new Gpuckpt.Engine.Images.ImageTrust(Gpuckpt.Engine.Images.ImageKey.LoadOrCreate(path), sign, require);
    }

}
