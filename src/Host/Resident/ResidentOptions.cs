using System.CommandLine;
using System.Text.Json.Nodes;

namespace Gpuckpt.Host.Resident;

/// <summary>How checkpoint and restore choose where their job runs: the resident engine of their state directory, if any, or their own.</summary>
public static class ResidentOptions
{
    public static Option<bool> InProcess() => new("--in-process")
    {
        Description = "run the engine in this command even when a resident engine (gpuckpt serve) serves the state directory",
    };

    /// <summary>The job's outcome from the resident engine serving this state directory, driver and journal; null when none does.</summary>
    public static async Task<CommandOutcome?> TryRunAsync(ParseResult parse, EngineOptions engineOptions, string driver, string op, JsonObject arguments,
        string what, bool json)
    {
        var stateDir = engineOptions.StateDirOf(parse);
        var request = new ResidentRequest(op, ResidentRequest.DriverKey(driver), ResidentRequest.JournalKey(parse.GetValue(engineOptions.Journal)!), arguments,
            ResidentRequest.ThisVersion);
        StatusLine.Say(Cli.Interactive(json), $"{what} in the resident engine of {stateDir}…");
        var outcome = await ResidentClient.TryRunAsync(stateDir, request);
        StatusLine.Clear();
        return outcome;
    }
}
