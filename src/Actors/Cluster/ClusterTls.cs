using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;
using Gpuckpt.Actors.Persistence;
using Gpuckpt.Engine.Trust;

namespace Gpuckpt.Actors.Cluster;

/// <summary>
/// Mutual TLS for a member's remoting (and the CLI's): with <c>gpuckpt.tls.enabled</c>, the ActorSystem presents the
/// identity's certificate from the cluster directory and accepts a peer, in either direction, only when its certificate
/// chains to the cluster's CA and is valid now. Nothing else can associate, join or deliver a message.
/// </summary>
public sealed class ClusterTls
{
    public const string DirVariable = "GPUCKPT_CLUSTER_DIR";

    private ClusterTls(ClusterAuthority authority, string identity, System.Security.Cryptography.X509Certificates.X509Certificate2 certificate)
    {
        Authority = authority;
        Identity = identity;
        Certificate = certificate;
    }

    public ClusterAuthority Authority { get; }
    public string Identity { get; }
    public System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate { get; }

    /// <summary>The cluster directory: gpuckpt.tls.dir, else $GPUCKPT_CLUSTER_DIR, else cluster/ in the state directory.</summary>
    public static string DirOf(Config config)
    {
        var dir = config.GetString("gpuckpt.tls.dir", "");
        if (string.IsNullOrWhiteSpace(dir)) dir = Environment.GetEnvironmentVariable(DirVariable) ?? "";
        if (string.IsNullOrWhiteSpace(dir))
            dir = Path.Combine(config.GetString("gpuckpt.state-dir", "") is { Length: > 0 } state ? state : JournalConfig.DefaultStateDir(), "cluster");
        return Path.GetFullPath(dir);
    }

    /// <summary><paramref name="config"/> with <paramref name="dir"/> as its cluster directory.</summary>
    public static Config WithDir(Config config, string dir) =>
        ConfigurationFactory.ParseString($"gpuckpt.tls.dir = {HoconString.Quote(dir)}").WithFallback(config);

    /// <summary>The TLS identity <paramref name="identity"/> of the cluster <paramref name="config"/> names; null when TLS is off.</summary>
    public static ClusterTls? For(Config config, string identity)
    {
        if (!config.GetBoolean("gpuckpt.tls.enabled", false)) return null;
        var authority = ClusterAuthority.Open(DirOf(config));
        return new ClusterTls(authority, identity, authority.IdentityFor(identity));
    }

    /// <summary>The remoting settings that turn TLS on (the certificate itself comes with <see cref="Setup"/>).</summary>
    public static Config RemotingConfig => ConfigurationFactory.ParseString("akka.remote.dot-netty.tcp.enable-ssl = true");

    /// <summary>The transport's setup: this identity's certificate, mutual authentication, the cluster CA as the only root.</summary>
    public DotNettySslSetup Setup() =>
        new(Certificate, suppressValidation: false, requireMutualAuthentication: true, validateCertificateHostname: false, Validate);

    /// <summary>An ActorSystem over <paramref name="config"/>, with mutual TLS when <paramref name="tls"/> is given.</summary>
    public static ActorSystem CreateSystem(string name, Config config, ClusterTls? tls) =>
        tls is null
            ? ActorSystem.Create(name, config)
            : ActorSystem.Create(name, BootstrapSetup.Create().WithConfig(RemotingConfig.WithFallback(config)).And(tls.Setup()));

    private bool Validate(System.Security.Cryptography.X509Certificates.X509Certificate2? certificate,
        System.Security.Cryptography.X509Certificates.X509Chain? chain, string remotePeer, System.Net.Security.SslPolicyErrors errors, ILoggingAdapter log)
    {
        var problem = Authority.Check(certificate);
        if (problem is null) return true;
        log.Warning("refused a TLS peer at {0}: {1}", remotePeer, problem);
        return false;
    }
}
