using Akka.Configuration;

namespace Gpuckpt.Actors.Migration;

/// <summary>The <c>gpuckpt.migration</c> section: frame size, window, retry budget and timeouts.</summary>
/// <param name="TargetReturn">How long a target whose engine died during the transfer is waited for (zero: roll back at once).</param>
public sealed record MigrationSettings(
    int FrameSize,
    int Window,
    TimeSpan AckTimeout,
    int RetryBudget,
    TimeSpan RetryBackoff,
    TimeSpan RequestTimeout,
    TimeSpan RestoreTimeout,
    TimeSpan TargetReturn,
    string StateDir)
{
    /// <summary>
    /// The key this node signs its copy of an incoming image with (null: unsigned): a node that requires signed images
    /// restores a migrated process only from a copy it signed itself, after every frame passed its checksum.
    /// </summary>
    public Gpuckpt.Engine.Images.ImageKey? SignWith { get; init; }

    /// <summary>
    /// This node's data port (null: frames travel through remoting): targets here register with it, and their senders
    /// send frames over a connection of their own to it.
    /// </summary>
    public FrameListener? Listener { get; init; }

    /// <summary>This node's TLS identity (null: TLS off): data links to other nodes are mutual TLS with it.</summary>
    public Cluster.ClusterTls? Tls { get; init; }

    /// <summary>Whether a node opens a data port (<c>gpuckpt.migration.data-link</c>).</summary>
    public bool DataLink { get; init; } = true;

    /// <summary>The data port to bind (0: any free one) and the one senders reach (0: the bound one).</summary>
    public int DataPort { get; init; }

    public int DataPublicPort { get; init; }

    /// <summary>Remoting's maximum frame size: a data link refuses larger frames too.</summary>
    public int MaximumFrame { get; init; }

    /// <summary>
    /// This gpuckpt as a command (its executable and first arguments), which runs CRIU's dump and restore of a
    /// whole-process migration; null: this node takes no whole-process migration.
    /// </summary>
    public IReadOnlyList<string>? SelfCommand { get; init; }

    /// <summary>The kernel this node hosts for GPU processes (null: the machine's own): their dumps and restores run under it.</summary>
    public IProcessKernel? Kernel { get; init; }

    /// <summary>
    /// How many bytes of the chunks the source has just written it keeps in memory for the sender, which then takes them
    /// from there rather than reading them back from the image (0: every piece is read back).
    /// </summary>
    public long KeptBytes { get; init; } = 64L << 20;

    /// <summary>
    /// Whether a stop-and-copy migration's copy goes to the target's disk with O_DIRECT, as every image this node's engine
    /// writes (<see cref="EngineSettings.DirectIo"/>); a live migration's copy is written through the page cache whatever
    /// this says.
    /// </summary>
    public bool DirectIo { get; init; } = true;

    /// <summary>A live migration pauses for its last round once a round would copy at most this many bytes.</summary>
    public long LiveFinalBytes { get; init; } = 64L << 20;

    /// <summary>A live migration pauses for its last round after at most this many running rounds.</summary>
    public int LiveMaxRounds { get; init; } = 8;

    /// <summary>How long a whole-process restore waits for the dumped process's pid to be released (its zombie reaped).</summary>
    public TimeSpan PidFreeTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a refusal waits for the line that names who holds a pid (<see cref="Engine.Checkpoint.ProcessLock"/>).</summary>
    public TimeSpan ProcessLockHolderWait { get; init; } = TimeSpan.FromSeconds(1);

    public static MigrationSettings From(Config config, string stateDir)
    {
        var frame = config.GetByteSize("gpuckpt.migration.frame-size") ?? 256 * 1024;
        var maxFrame = config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size") ?? 128000;
        // Header and remoting envelope must fit beside the payload under the transport's maximum.
        if (frame <= 0 || frame + 4096 > maxFrame)
            throw new ConfigurationException($"gpuckpt.migration.frame-size ({frame}) must be positive and at least 4 KiB below akka.remote.dot-netty.tcp.maximum-frame-size ({maxFrame})");
        // The copy's pieces are the frames: cut at leaf boundaries, they hash to the source's digests (FileDigest).
        if (frame % Engine.Images.FileDigest.LeafSize != 0)
            throw new ConfigurationException($"gpuckpt.migration.frame-size ({frame}) must be a multiple of {Engine.Images.FileDigest.LeafSize / 1024} KiB");
        return new MigrationSettings(
            (int)frame,
            Math.Max(1, config.GetInt("gpuckpt.migration.window", 16)),
            config.GetTimeSpan("gpuckpt.migration.ack-timeout", TimeSpan.FromSeconds(3)),
            Math.Max(0, config.GetInt("gpuckpt.migration.retry-budget", 5)),
            config.GetTimeSpan("gpuckpt.migration.retry-backoff", TimeSpan.FromSeconds(1)),
            config.GetTimeSpan("gpuckpt.migration.request-timeout", TimeSpan.FromSeconds(30)),
            config.GetTimeSpan("gpuckpt.migration.restore-timeout", TimeSpan.FromMinutes(10)),
            config.GetTimeSpan("gpuckpt.migration.target-return", TimeSpan.FromSeconds(30)),
            stateDir)
        {
            DataLink = config.GetBoolean("gpuckpt.migration.data-link", true),
            DataPort = config.GetInt("gpuckpt.migration.data-port", 0),
            DataPublicPort = config.GetInt("gpuckpt.migration.data-public-port", 0),
            MaximumFrame = (int)maxFrame,
            PidFreeTimeout = config.GetTimeSpan("gpuckpt.migration.criu.pid-free-timeout", TimeSpan.FromSeconds(30)),
            KeptBytes = Math.Max(0, config.GetByteSize("gpuckpt.migration.kept-bytes") ?? 64L << 20),
            LiveFinalBytes = config.GetByteSize("gpuckpt.migration.live.final-bytes") ?? 64L << 20,
            LiveMaxRounds = Math.Max(1, config.GetInt("gpuckpt.migration.live.max-rounds", 8)),
            ProcessLockHolderWait = config.GetTimeSpan("gpuckpt.cli.process-lock-holder-wait", TimeSpan.FromSeconds(1), allowInfinite: false),
        };
    }

    /// <summary>Where the source side keeps a migration's image and marker (one directory per migration).</summary>
    public string OutgoingDir(string migrationId) => Path.Combine(StateDir, "migrations", "out", migrationId);

    /// <summary>Where the source of a whole-process migration keeps CRIU's dump and its step (<see cref="Engine.Transfer.CriuMigrationRecord"/>) until the target restored it; a restarted node continues each one left there.</summary>
    public string CriuOutgoingDir(string migrationId) => Path.Combine(StateDir, "migrations", "criu-out", migrationId);

    /// <summary>Where the target of a whole-process migration writes the image it receives.</summary>
    public string CriuIncomingDir(string migrationId) => Path.Combine(StateDir, "migrations", "criu-in", migrationId);

    /// <summary>Where the target of a whole-process migration keeps CRIU's log of a restore that failed (its image is removed).</summary>
    public string CriuRestoreLog(string migrationId) => Path.Combine(StateDir, "migrations", "criu-logs", migrationId + "-restore.log");

    /// <summary>The state directory of the engines that a node's whole-process dumps and restores run.</summary>
    public string CriuEngineDir => Path.Combine(StateDir, "criu-engine");

    /// <summary>Where the target side writes its copy of the image.</summary>
    public string IncomingDir(string migrationId) => Path.Combine(StateDir, "migrations", "in", migrationId);
}
