using System.Text.Json;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Engine.Tests.Criu;

/// <summary><c>gpuckpt demo --cluster --criu</c>, run as a user runs it: a CPU counter process moved whole between two node processes.</summary>
public sealed class CriuClusterDemoSpecs(ITestOutputHelper output)
{
    [Fact]
    [Trait("Tier", "Full")]
    public async Task Demo_cluster_criu_moves_the_counter_under_its_pid_and_it_counts_on_from_the_dumped_value()
    {
        var run = await GpuckptProcess.RunAsync(["demo", "--cluster", "--criu", "--json"], timeout: TimeSpan.FromMinutes(5));
        Assert.True(run.ExitCode == 0, run.ToString());
        output.WriteLine(run.Stdout.Trim());
        var facts = JsonDocument.Parse(run.Stdout.Split('\n').Last(l => l.StartsWith('{'))).RootElement;
        Assert.True(facts.GetProperty("ok").GetBoolean());
        var pid = facts.GetProperty("pid_before").GetUInt32();
        Assert.Equal(pid, facts.GetProperty("pid_after").GetUInt32());
        Assert.Equal(("a", "b"), (facts.GetProperty("from").GetString(), facts.GetProperty("to").GetString()));
        var atDump = facts.GetProperty("counter_at_dump").GetInt64();
        Assert.True(atDump > 0, run.Stdout);
        Assert.Equal(atDump + 1, facts.GetProperty("counter_first_after_restore").GetInt64());
        Assert.True(facts.GetProperty("counter_after_restore").GetInt64() > atDump, run.Stdout);
        Assert.True(facts.GetProperty("counter_in_order").GetBoolean(), run.Stdout);
        // The demo ends what it started: the moved process is gone (or only its zombie is left for init).
        Assert.Null(Gpuckpt.Engine.Transfer.ProcessIdentity.Of(pid));
    }
}
