using Akka.Configuration;

namespace Gpuckpt.Actors;

/// <summary>Loads the HOCON files of <c>hocon/</c>: the engine's settings live there, never in code.</summary>
public static class EngineConfig
{
    /// <summary>Overrides gpuckpt.copy.chunk-size (e.g. 256KiB).</summary>
    public const string ChunkSizeVariable = "GPUCKPT_CHUNK_SIZE";

    /// <summary>The directory holding the .conf files: next to the executable, else the repository's hocon/.</summary>
    public static string Directory()
    {
        var local = Path.Combine(AppContext.BaseDirectory, "hocon");
        if (System.IO.Directory.Exists(local)) return local;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "hocon");
            if (File.Exists(Path.Combine(candidate, "engine.conf"))) return candidate;
        }
        throw new FileNotFoundException($"hocon/engine.conf not found near {AppContext.BaseDirectory}");
    }

    /// <summary>Parses a .conf file (a name in hocon/ or a path) with <paramref name="overrides"/> on top.</summary>
    public static Config Load(string file = "engine.conf", string? overrides = null)
    {
        var path = File.Exists(file) ? file : Path.Combine(Directory(), file);
        if (!File.Exists(path)) throw new FileNotFoundException($"configuration file not found: {path}", path);
        var config = ConfigurationFactory.ParseString(File.ReadAllText(path));
        // The chunk size may come from the environment (HOCON's optional substitution cannot override a value in place).
        if (Environment.GetEnvironmentVariable(ChunkSizeVariable) is { Length: > 0 } chunk)
            config = ConfigurationFactory.ParseString($"gpuckpt.copy.chunk-size = \"{chunk}\"").WithFallback(config);
        return overrides is null ? config : ConfigurationFactory.ParseString(overrides).WithFallback(config);
    }
}
