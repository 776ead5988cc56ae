using Akka;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Hosting;
using Akka.Remote;
using Gpuckpt.Actors.Migration;
using Gpuckpt.Engine.Devices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Gpuckpt.Actors.Cluster;

/// <summary>
/// One cluster member with its own driver: the engine (jobs), /user/node (status). A graceful leave first refuses new
/// migrations and lets running ones finish, then its jobs (all within gpuckpt.node.drain-timeout), then leaves the cluster.
/// </summary>
public sealed class ClusterNode : IAsyncDisposable
{
    private readonly TaskCompletionSource _up = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _refused = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stopping = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IHost? _host;

    private ClusterNode(EngineHost engine, NodeSettings settings, IGpuDriver driver, MembershipRecord membership)
    {
        Engine = engine;
        Settings = settings;
        Driver = driver;
        Membership = membership;
    }

    public EngineHost Engine { get; }
    public NodeSettings Settings { get; }
    public IGpuDriver Driver { get; }

    /// <summary>This node's record of having been a member (see <see cref="MembershipRecord"/>).</summary>
    public MembershipRecord Membership { get; }
    public ActorSystem System => Engine.System;
    public Address Address => Akka.Cluster.Cluster.Get(System).SelfAddress;

    /// <summary>The port the migration data link listens on (none when the data link is off).</summary>
    public int? DataPort { get; private set; }

    /// <summary>Completes once this member is Up in the cluster.</summary>
    public Task Up => _up.Task;

    /// <summary>
    /// Starts a node in a host of its own (Akka.Hosting over Microsoft.Extensions.Hosting). With
    /// <paramref name="signals"/>, SIGTERM and SIGINT stop the host (`gpuckpt node`): see <see cref="Stopping"/>. Without,
    /// only <see cref="LeaveAsync"/> or a dispose stops it (several nodes in one process).
    /// </summary>
    /// <param name="selfCommand">this gpuckpt as a command, for whole-process migrations (null: the node takes none)</param>
    /// <param name="kernel">the kernel this node hosts for GPU processes (null: the machine's own)</param>
    public static async Task<ClusterNode> StartAsync(IGpuDriver driver, Config config, IReadOnlyList<string>? selfCommand = null,
        IProcessKernel? kernel = null, bool signals = false)
    {
        var start = NodeStart.For(driver, config, selfCommand, kernel);
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        if (signals) builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        else builder.Services.AddSingleton<IHostLifetime, NoSignals>();
        // The host's stop runs the coordinated shutdown, whose drain may take its whole timeout.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = start.Settings.DrainTimeout + TimeSpan.FromMinutes(1));
        builder.Services.AddAkka(start.Settings.SystemName, akka => akka.AddGpuckptNode(start));
        var host = builder.Build();
        try
        {
            await host.StartAsync().ConfigureAwait(false);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        var node = await start.Node.ConfigureAwait(false);
        node._host = host;
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStopping.Register(() => node._stopping.TrySetResult());
        return node;
    }

    /// <summary>
    /// The node in <paramref name="system"/>, which its host has just started: the engine, the node's and migrations'
    /// actors (registered in <paramref name="registry"/>), the data link, the drain in coordinated shutdown.
    /// </summary>
    internal static ClusterNode Attach(ActorSystem system, NodeStart start, IActorRegistry registry)
    {
        var (driver, config, settings, membership, tls) = (start.Driver, start.Config, start.Settings, start.Membership, start.Tls);
        var engine = EngineHost.Attach(system, driver, config);
        var node = new ClusterNode(engine, settings, driver, membership);
        var cluster = Akka.Cluster.Cluster.Get(system);
        if (start.RejoinOnly)
        {
            var formAfter = config.GetTimeSpan("gpuckpt.node.form-after", TimeSpan.FromMinutes(2));
            system.Log.Info("node {0} was a member before and did not leave: it rejoins the cluster through the other seeds " +
                            "and forms a new one only if none answers within {1}", settings.Name, formAfter);
            system.Scheduler.Advanced.ScheduleOnce(formAfter, () =>
            {
                if (node._up.Task.IsCompleted) return;
                system.Log.Warning("no seed node answered within {0}: node {1} forms a new cluster", formAfter, settings.Name);
                cluster.Join(cluster.SelfAddress);
            });
        }
        else if (config.GetStringList("akka.cluster.seed-nodes", []).Count == 0)
        {
            // No seed nodes: this node forms a cluster of its own, and the others name it as their seed.
            cluster.Join(cluster.SelfAddress);
        }
        StallWatch.Start(system, config.GetTimeSpan("gpuckpt.node.stall-watch.interval", TimeSpan.FromMilliseconds(250)),
            config.GetTimeSpan("gpuckpt.node.stall-watch.threshold", TimeSpan.FromSeconds(1)));
        // The node's key (none when it neither signs nor requires signatures) signs its copies of incoming images.
        var migrationSettings = MigrationSettings.From(config, config.GetString("gpuckpt.state-dir", Path.GetTempPath())) with
        {
            SignWith = engine.Settings.Trust.Key,
            DirectIo = engine.Settings.DirectIo,
            Tls = tls,
            SelfCommand = start.SelfCommand,
            Kernel = start.Kernel,
        };
        if (migrationSettings.DataLink)
        {
            // Image frames come in over a data port of their own, on the address remoting binds.
            FrameListener listener;
            try
            {
                listener = FrameListener.Start(config.GetString("akka.remote.dot-netty.tcp.hostname", "127.0.0.1"), migrationSettings.DataPort,
                    migrationSettings.DataPublicPort, migrationSettings.MaximumFrame, system.Log, tls);
            }
            catch
            {
                // The host stops the ActorSystem when a start fails; the chunk pool is the engine's own.
                engine.Pool.Dispose();
                throw;
            }
            system.RegisterOnTermination(listener.Dispose);
            node.DataPort = listener.Port;
            migrationSettings = migrationSettings with { Listener = listener };
        }
        var migrations = system.ActorOf(MigrationsActor.Props(settings, driver, engine.Jobs, migrationSettings), MigrationsActor.Name);
        var askTimeout = settings.StatusTimeout;
        var status = system.ActorOf(NodeActor.Props(settings, driver, engine.Jobs,
            () => migrations.Ask<MigrationsList>(ListMigrations.Instance, askTimeout)), NodeActor.Name);
        registry.Register<JobsActor>(engine.Jobs);
        registry.Register<MigrationsActor>(migrations);
        registry.Register<NodeActor>(status);
        var jobs = engine.Jobs;
        // Migrations first: a migration into this node still needs the jobs actor to start its restore.
        CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeClusterShutdown, "drain", async () =>
        {
            var clock = global::System.Diagnostics.Stopwatch.StartNew();
            try
            {
                await migrations.Ask<MigrationsDrained>(DrainMigrations.Instance, settings.DrainTimeout).ConfigureAwait(false);
            }
            catch (AskTimeoutException)
            {
                system.Log.Warning("leaving with migrations still running after {0}: they continue when this node's engine restarts", settings.DrainTimeout);
            }
            var left = settings.DrainTimeout - clock.Elapsed;
            try
            {
                await jobs.Ask<JobsDrained>(DrainJobs.Instance, left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1)).ConfigureAwait(false);
            }
            catch (AskTimeoutException)
            {
                system.Log.Warning("leaving with jobs still running after {0}: they continue when an engine resumes them", settings.DrainTimeout);
            }
            return Done.Instance;
        });
        // Whoever starts the shutdown (a leave, SIGTERM through the runtime's exit): once the node has left, it no longer
        // has to rejoin; a node the cluster downed keeps its record.
        CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "forget-membership", () =>
        {
            if (node._up.Task.IsCompleted && !node.Downed) membership.Clear();
            return Task.FromResult(Done.Instance);
        });
        if (tls is not null)
        {
            var watch = system.ActorOf(Props.Create(() => new HandshakeWatch(node)), "tls-handshake-watch");
            system.EventStream.Subscribe(watch, typeof(AssociationErrorEvent));
        }
        cluster.RegisterOnMemberUp(() =>
        {
            membership.Write(cluster.SelfAddress.ToString());
            node._up.TrySetResult();
        });
        return node;
    }

    /// <summary>
    /// Completes, with the reason, when a peer refused this node's TLS handshake (or this node refused the peer's
    /// certificate) before the node joined: a node that is not of the cluster, or whose certificate expired, would
    /// otherwise ask to join forever.
    /// </summary>
    public Task<string> Refused => _refused.Task;

    /// <summary>
    /// Why the node was not let in, when a TLS handshake is why: <see cref="Refused"/>'s reason, or Akka.Remote's own
    /// shutdown of a system whose outbound handshake failed (which may come first).
    /// </summary>
    public string? RefusedReason()
    {
        if (_refused.Task.IsCompleted) return _refused.Task.Result;
        var reason = CoordinatedShutdown.Get(System).ShutdownReason?.ToString();
        return reason is not null && reason.StartsWith("TLS handshake failed", StringComparison.Ordinal)
            ? $"the {reason[0..1].ToLowerInvariant()}{reason[1..]} (the peer does not trust this node's certificate, or this node the peer's)"
            : null;
    }

    /// <summary>
    /// Leaves the cluster gracefully (jobs drained first) and stops the ActorSystem; the node then no longer counts as
    /// a member that must rejoin (unless the cluster had downed it first).
    /// </summary>
    public Task LeaveAsync() => CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClusterLeavingReason.Instance);

    /// <summary>True when the cluster downed this member (rather than it leaving by itself).</summary>
    public bool Downed => CoordinatedShutdown.Get(System).ShutdownReason is CoordinatedShutdown.ClusterDowningReason;

    /// <summary>Completes when the ActorSystem has stopped (after a leave, or when the cluster downed this member).</summary>
    public Task Terminated => System.WhenTerminated;

    /// <summary>
    /// Completes when the node's host is asked to stop: SIGTERM or SIGINT (with signals), or the ActorSystem having
    /// stopped by itself (the cluster downed the node).
    /// </summary>
    public Task Stopping => _stopping.Task;

    public async ValueTask DisposeAsync()
    {
        await LeaveAsync().ConfigureAwait(false);
        if (_host is { } host)
        {
            await host.StopAsync().ConfigureAwait(false);
            host.Dispose();
        }
        await Engine.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>A host lifetime that leaves SIGTERM and SIGINT alone: the process's owner decides when its nodes stop.</summary>
    private sealed class NoSignals : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>Turns a failed association into <see cref="Refused"/> when its cause is the TLS handshake and the node has not joined.</summary>
    private sealed class HandshakeWatch : ReceiveActor
    {
        public HandshakeWatch(ClusterNode node) =>
            Receive<AssociationErrorEvent>(e =>
            {
                if (node._up.Task.IsCompleted) return;
                Exception? cause = e.Cause;
                var handshake = false;
                for (var c = cause; c is not null; c = c.InnerException)
                {
                    // Akka.Remote words every failed handshake so; .NET's own refusal is an AuthenticationException.
                    handshake |= c is global::System.Security.Authentication.AuthenticationException ||
                                 c.Message.StartsWith("TLS handshake failed", StringComparison.Ordinal);
                    cause = c;
                }
                if (!handshake) return;
                var peer = e.RemoteAddress is { Host: { } host, Port: { } port } ? $"{host}:{port}" : $"{e.RemoteAddress}";
                // .NET words a refusal of the peer's certificate by this node's own check after the callback that made it.
                var why = cause switch
                {
                    _ when cause!.Message.Contains("RemoteCertificateValidationCallback", StringComparison.Ordinal) => "this node does not trust the peer's certificate",
                    IOException => "the peer ended it: it does not trust this node's certificate",
                    _ => cause.Message.TrimEnd('.'),
                };
                node._refused.TrySetResult($"the TLS handshake with {peer} failed ({why})");
            });
    }
}
