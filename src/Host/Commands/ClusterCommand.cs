using System.CommandLine;
using Gpuckpt.Actors.Cluster;

namespace Gpuckpt.Host.Commands;

/// <summary>`gpuckpt cluster status`: the members, their state, their GPUs and their jobs, through any node; and the cluster's certificates.</summary>
public static class ClusterCommand
{
    public static Command Create()
    {
        var node = new Option<string?>("--node") { Description = "HOST:PORT of any node (default: the first seed node of --config)" };
        var config = new Option<string>("--config") { Description = "node HOCON file naming the seed nodes", DefaultValueFactory = _ => "node.conf" };
        var json = Cli.JsonOption();
        var status = new Command("status", "list the cluster's members, their GPUs and their jobs") { node, config, json };
        status.SetAction((parse, _) => Cli.Guard(async () =>
        {
            await using var contact = ClusterContact.Open(parse.GetValue(node), parse.GetValue(config)!);
            var reply = await contact.AskNode<ClusterStatus>(ClusterStatusRequest.Instance);
            if (parse.GetValue(json)) Cli.PrintJson(ToJson(reply));
            else Print(reply);
            return Cli.ExitOk;
        }));
        return new Command("cluster", "the cluster of gpuckpt nodes") { status, ClusterCertificateCommands.Init(), ClusterCertificateCommands.AddNode() };
    }

    private static object ToJson(ClusterStatus s) => new
    {
        contacted = s.Contacted,
        leader = s.Leader is null ? null : Cli.HostPort(s.Leader),
        members = s.Members.Select(m => new
        {
            name = m.Name,
            address = Cli.HostPort(m.Address),
            status = m.Status,
            reachable = m.Reachable,
            roles = m.Roles,
            driver = m.Info?.Driver,
            leaving = m.Info?.Leaving,
            gpus = m.Info?.Gpus.Select(g => new
            {
                gpu_id = g.GpuId, render_minor = g.DrmRenderMinor, device_id = g.DeviceId, simd_count = g.SimdCount,
                vram_size = g.VramSize, hive_id = g.HiveId,
            }),
            jobs = m.Info?.Jobs.Select(j => new { job_id = j.Id, kind = j.Kind, state = j.State, detail = j.Detail }),
        }),
    };

    private static void Print(ClusterStatus s)
    {
        Console.Out.WriteLine($"cluster seen from {s.Contacted} (leader {s.Leader ?? "none"}): {s.Members.Count} members");
        foreach (var m in s.Members)
        {
            var gpus = m.Info is null ? "no report" : string.Join(", ", m.Info.Gpus.Select(g => $"0x{g.GpuId:x}/renderD{g.DrmRenderMinor} {g.VramSize >> 20} MiB"));
            var status = m.Info?.Leaving == true ? "leaving" : m.Status;
            Console.Out.WriteLine($"{m.Name,-16} {status,-8} {(m.Reachable ? "reachable" : "UNREACHABLE"),-11} {m.Address}  GPUs: {gpus}");
            foreach (var j in m.Info?.Jobs ?? [])
                Console.Out.WriteLine($"    {j.Id,-22} {j.Kind,-10} {j.State,-10} {j.Detail}");
        }
    }
}
