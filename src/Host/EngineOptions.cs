using System.CommandLine;
using Akka.Configuration;
using Gpuckpt.Actors;
using Gpuckpt.Actors.Persistence;

namespace Gpuckpt.Host;

/// <summary>Where the engine journals its jobs: options shared by checkpoint, restore, resume and jobs.</summary>
public sealed class EngineOptions
{
    public Option<string?> StateDir { get; } = new("--state-dir")
    {
        Description = $"directory of the job journal (default ${JournalConfig.StateDirVariable}, else ~/.local/state/gpuckpt)",
    };

    public Option<string> Journal { get; } = new("--journal")
    {
        Description = $"sqlite (embedded, default) or postgres (connection string in ${JournalConfig.PostgresVariable}), or a .conf file",
        DefaultValueFactory = _ => "sqlite",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(StateDir);
        command.Options.Add(Journal);
    }

    /// <summary>The state directory chosen (created 0700 if absent).</summary>
    public string StateDirOf(ParseResult parse)
    {
        var stateDir = Path.GetFullPath(parse.GetValue(StateDir) ?? JournalConfig.DefaultStateDir());
        try
        {
            Engine.Trust.PrivateDirectory.Create(stateDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException(Engine.Images.ImageFiles.UnwritableDirectory(stateDir, "state directory") ?? $"state directory {stateDir} cannot be created: {e.Message}");
        }
        return stateDir;
    }

    /// <summary>hocon/engine.conf with the chosen state directory, for a command that opens no journal.</summary>
    public Config LoadWithoutJournal(ParseResult parse)
    {
        var stateDir = Path.GetFullPath(parse.GetValue(StateDir) ?? JournalConfig.DefaultStateDir());
        return ConfigurationFactory.ParseString($"gpuckpt.state-dir = {HoconString.Quote(stateDir)}").WithFallback(EngineConfig.Load());
    }

    /// <summary>hocon/engine.conf under the chosen journal's file (created with the state directory when absent).</summary>
    public Config Load(ParseResult parse) => JournalConfig.Load(JournalFile(parse), StateDirOf(parse)).WithFallback(EngineConfig.Load());

    /// <summary>
    /// As <see cref="Load"/>, for a command that reads jobs journalled before (jobs, resume, abort, forget): an embedded
    /// journal that is not there is refused naming the state directory, so a mistyped one never starts a journal afresh.
    /// </summary>
    public Config LoadExisting(ParseResult parse)
    {
        var stateDir = Path.GetFullPath(parse.GetValue(StateDir) ?? JournalConfig.DefaultStateDir());
        var config = JournalConfig.Load(JournalFile(parse), stateDir).WithFallback(EngineConfig.Load());
        if (JournalCheck.EmbeddedJournalFile(config) is { } file && !File.Exists(file))
            throw new UsageException($"no journal in {stateDir} (no {Path.GetFileName(file)}): only checkpoint, restore, unpause and node start one; " +
                                     $"check --state-dir or ${JournalConfig.StateDirVariable}");
        return Load(parse);
    }

    private string JournalFile(ParseResult parse) => parse.GetValue(Journal)! switch
    {
        "sqlite" => "journal-sqlite.conf",
        "postgres" => "journal-postgres.conf",
        var file => file,
    };
}
