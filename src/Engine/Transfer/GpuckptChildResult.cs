namespace Gpuckpt.Engine.Transfer;

/// <summary>How a gpuckpt child process ended: its exit code and everything it printed.</summary>
public sealed record GpuckptChildResult(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>The last line it wrote on stderr (its one-line reason), else on stdout.</summary>
    public string Reason =>
        Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault()
        ?? Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? $"exit {ExitCode}";
}
