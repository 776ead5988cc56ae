using System.CommandLine;
using Gpuckpt.Actors.Cluster;
using Gpuckpt.Engine.Trust;

namespace Gpuckpt.Host.Commands;

/// <summary>`gpuckpt cluster init` and `gpuckpt cluster add-node`: the cluster's CA and the certificates it issues.</summary>
public static class ClusterCertificateCommands
{
    public static Command Init()
    {
        var dir = DirOption();
        var name = new Option<string>("--name") { Description = "the cluster's name, in its CA's subject", DefaultValueFactory = _ => "gpuckpt" };
        var json = Cli.JsonOption();
        var command = new Command("init", "create the cluster's certificate authority (ca.crt, ca.key 0600) in the cluster directory") { dir, name, json };
        command.SetAction(parse => Cli.Guard(() =>
        {
            var path = DirOf(parse.GetValue(dir));
            var ca = ClusterAuthority.Create(path, parse.GetValue(name)!);
            if (parse.GetValue(json)) Cli.PrintJson(new { dir = path, ca = ca.Certificate.Subject, thumbprint = ca.Certificate.Thumbprint, not_after = ca.Certificate.NotAfter.ToUniversalTime() });
            else Console.Out.WriteLine($"cluster CA created in {path} ({ca.Certificate.Thumbprint}); nodes started with this directory issue their own certificates");
            return Cli.ExitOk;
        }));
        return command;
    }

    public static Command AddNode()
    {
        var dir = DirOption();
        var name = new Argument<string>("NAME") { Description = "the node's name (gpuckpt.node.name), or cli for the command line" };
        var json = Cli.JsonOption();
        var command = new Command("add-node", "issue a certificate (NAME.crt, NAME.key 0600) for a node or the CLI") { name, dir, json };
        command.SetAction(parse => Cli.Guard(() =>
        {
            var path = DirOf(parse.GetValue(dir));
            var identity = parse.GetValue(name)!;
            var cert = ClusterAuthority.Open(path).Issue(identity);
            var stem = ClusterAuthority.FileStem(identity);
            if (parse.GetValue(json)) Cli.PrintJson(new { dir = path, name = identity, certificate = Path.Combine(path, stem + ".crt"), key = Path.Combine(path, stem + ".key"), not_after = cert.NotAfter.ToUniversalTime() });
            else Console.Out.WriteLine($"certificate for {identity} issued: {Path.Combine(path, stem + ".crt")} and its key {stem}.key (0600), valid until {cert.NotAfter.ToUniversalTime():u}");
            return Cli.ExitOk;
        }));
        return command;
    }

    private static Option<string?> DirOption() => new("--dir")
    {
        Description = $"the cluster directory (default ${ClusterTls.DirVariable}, else cluster/ in the state directory)",
    };

    private static string DirOf(string? dir) =>
        ClusterTls.DirOf(dir is null ? Akka.Configuration.Config.Empty : ClusterTls.WithDir(Akka.Configuration.Config.Empty, dir));
}
