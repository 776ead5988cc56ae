using System.Globalization;

namespace Gpuckpt.Engine.Transfer;

/// <summary>
/// Which running process a pid names: the machine's boot, the pid namespace of the node that looked, and the process's
/// start time. Two nodes on one machine and one pid namespace see the same process under one pid; a process that
/// started later under a recycled pid has another start time.
/// </summary>
public sealed record ProcessIdentity(uint Pid, string BootId, string PidNamespace, ulong StartTicks)
{
    /// <summary>The identity of <paramref name="pid"/> as this process sees it; null when no such process runs (or only its zombie is left).</summary>
    public static ProcessIdentity? Of(uint pid)
    {
        var stat = StatFields(pid);
        if (stat is null || stat[0] == "Z") return null;
        // After the comm's closing parenthesis: state is field 3, starttime field 22.
        return new ProcessIdentity(pid, ThisBoot(), OwnPidNamespace(), ulong.Parse(stat[19], CultureInfo.InvariantCulture));
    }

    /// <summary>Whether <paramref name="pid"/> has a /proc entry at all (a zombie not yet reaped still holds its pid).</summary>
    public static bool Taken(uint pid) => Directory.Exists($"/proc/{pid}");

    /// <summary>True when this identity, seen from another node, names the process <paramref name="here"/> is.</summary>
    public bool SameAs(ProcessIdentity? here) =>
        here is not null && here.Pid == Pid && here.BootId == BootId && here.PidNamespace == PidNamespace && here.StartTicks == StartTicks;

    /// <summary>
    /// Why this process cannot be restored under its pid on node <paramref name="node"/> (this machine): another process
    /// runs there under it. Null when the pid is free, or held by this very process (source and target on one machine).
    /// </summary>
    public string? TakenOn(string node)
    {
        var here = Of(Pid);
        if (here is null || SameAs(here)) return null;
        return $"pid {Pid} is taken on node {node} by another process ({Command(Pid)}): CRIU restores a process under its own pid, so it cannot run there";
    }

    /// <summary>The command name of <paramref name="pid"/>, for a message ("" when it is gone).</summary>
    public static string Command(uint pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    /// <summary>Whether <paramref name="pid"/> runs and is not a zombie (the state letter of /proc/PID/stat).</summary>
    public static string? State(uint pid) => StatFields(pid)?[0];

    private static string[]? StatFields(uint pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        var close = stat.LastIndexOf(')');
        return close < 0 ? null : stat[(close + 2)..].Split(' ');
    }

    private static string ThisBoot() => File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();

    private static string OwnPidNamespace() => new FileInfo("/proc/self/ns/pid").LinkTarget ?? "";
}
