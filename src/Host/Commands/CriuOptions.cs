using System.CommandLine;

namespace Gpuckpt.Host.Commands;

/// <summary>The options checkpoint and restore share for whole processes (--criu) and the rule that --driver or --criu is given.</summary>
internal static class CriuOptions
{
    public static Option<bool> Criu(string description) => new("--criu") { Description = description };

    public static Option<bool> ShellJob() => new("--shell-job")
    {
        Description = "with --criu: the process shares its session or terminal with the caller (criu --shell-job)",
    };

    /// <summary>True for a --criu run; refuses --criu with --driver, neither of them, and --shell-job without --criu.</summary>
    public static bool Check(ParseResult parse, Option<bool> criu, Option<string> driver, Option<bool> shellJob)
    {
        var whole = parse.GetValue(criu);
        var hasDriver = parse.GetValue(driver) is not null;
        if (whole && hasDriver) throw new UsageException("--criu and --driver exclude each other: --criu saves the whole process on this machine's real devices");
        if (!whole && !hasDriver) throw new UsageException("--driver is required (or --criu for a whole process)");
        if (!whole && parse.GetValue(shellJob)) throw new UsageException("--shell-job goes with --criu");
        return whole;
    }
}
