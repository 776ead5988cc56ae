using Gpuckpt.Engine.Transfer;
using Xunit;

namespace Gpuckpt.Engine.Tests.Transfer;

/// <summary>
/// The pid rule of a whole-process migration's target: CRIU restores a process under its own pid, so the target refuses
/// a pid another process holds there, and allows exactly the source's own process (both nodes on one machine).
/// </summary>
public sealed class ProcessIdentitySpecs
{
    private static readonly uint Self = (uint)Environment.ProcessId;

    [Fact]
    public void The_source_process_itself_seen_from_a_node_on_the_same_machine_does_not_take_its_pid()
    {
        var source = ProcessIdentity.Of(Self);
        Assert.NotNull(source);
        Assert.Null(source.TakenOn("b"));
    }

    [Fact]
    public void A_process_that_started_at_another_time_under_the_pid_takes_it_and_is_named()
    {
        var here = ProcessIdentity.Of(Self)!;
        var earlier = here with { StartTicks = here.StartTicks - 1 };
        var taken = earlier.TakenOn("b");
        Assert.Equal($"pid {Self} is taken on node b by another process ({File.ReadAllText("/proc/self/comm").Trim()}): " +
                     "CRIU restores a process under its own pid, so it cannot run there", taken);
        // Another machine (boot) or another pid namespace is another process too, whatever its start time.
        Assert.NotNull((here with { BootId = "another-boot" }).TakenOn("b"));
        Assert.NotNull((here with { PidNamespace = "pid:[1]" }).TakenOn("b"));
    }

    [Fact]
    public void A_pid_no_process_holds_is_free_on_the_target()
    {
        var max = uint.Parse(File.ReadAllText("/proc/sys/kernel/pid_max").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var free = Enumerable.Range(1, 1000).Select(i => max - (uint)i).First(p => !ProcessIdentity.Taken(p));
        Assert.Null(ProcessIdentity.Of(free));
        Assert.Null(new ProcessIdentity(free, "another-boot", "pid:[1]", 42).TakenOn("b"));
    }
}
