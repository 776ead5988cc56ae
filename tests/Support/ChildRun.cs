using CliWrap;
using CliWrap.Buffered;

namespace Gpuckpt.Tests.Support;

/// <summary>A program run to its end through CliWrap: its exit code and both streams, read together; killed after the timeout.</summary>
public static class ChildRun
{
    /// <param name="environment">Variables to set, or to remove (a null value).</param>
    public static (int ExitCode, string Stdout, string Stderr) Exec(string file, IEnumerable<string> args,
        IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        using var cancel = new CancellationTokenSource(limit);
        var command = Cli.Wrap(file).WithArguments(args).WithValidation(CommandResultValidation.None);
        if (environment is not null) command = command.WithEnvironmentVariables(environment);
        try
        {
            // Called from synchronous specs and helpers only: nothing here runs on an async test's context.
            var result = command.ExecuteBufferedAsync(cancel.Token).GetAwaiter().GetResult();
            return (result.ExitCode, result.StandardOutput, result.StandardError);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            throw new TimeoutException($"{file} did not finish in {limit.TotalSeconds:0} s");
        }
    }
}
