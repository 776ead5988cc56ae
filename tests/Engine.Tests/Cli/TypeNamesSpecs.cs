using Gpuckpt.Host;
using Xunit;

namespace Gpuckpt.Engine.Tests.Cli;

/// <summary>
/// An error line loses .NET type names (a namespace-qualified name cut to its last part, exception class names
/// dropped), but keeps whole the file names and paths that read like them: the user needs those to act.
/// </summary>
public sealed class TypeNamesSpecs
{
    [Theory]
    [InlineData("journal failed: System.IO.IOException: No space left on device", "journal failed: No space left on device")]
    [InlineData("the job stopped (Gpuckpt.Actors.Checkpoint.JobFailed)", "the job stopped (JobFailed)")]
    [InlineData("Akka.Pattern.AskTimeoutException: timed out", "timed out")]
    public void Type_names_are_cut_from_a_line(string line, string shown)
    {
        Assert.True(TypeNames.Named(line));
        Assert.Equal(shown, TypeNames.Strip(line));
    }

    [Theory]
    [InlineData("the bridge is used only when Gpuckpt.TestHooks.dll sits beside gpuckpt")]
    [InlineData("cannot read /opt/gpuckpt/Gpuckpt.Engine/hocon/node.conf")]
    [InlineData("missing Akka.Cluster.conf in the images")]
    [InlineData(@"C:\tools\Gpuckpt.Host\gpuckpt.exe was not found")]
    public void File_names_and_paths_that_read_like_type_names_stay_whole(string line)
    {
        Assert.False(TypeNames.Named(line));
        Assert.Equal(line, TypeNames.Strip(line));
    }
}
