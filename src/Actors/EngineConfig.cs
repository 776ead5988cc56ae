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
        if (!File.Exists(path))
            throw new FileNotFoundException($"configuration file not found: {Path.GetFullPath(file)}{(Path.IsPathRooted(file) ? "" : $" (nor {path})")}", path);
        Config config;
        try
        {
            config = ConfigurationFactory.ParseString(File.ReadAllText(path));
        }
        catch (Exception e) when (e is not (IOException or UnauthorizedAccessException))
        {
            throw new InvalidDataException($"configuration file {Path.GetFullPath(path)} is not valid HOCON: {e.Message}", e);
        }
        // The chunk size may come from the environment (HOCON's optional substitution cannot override a value in place).
        if (Environment.GetEnvironmentVariable(ChunkSizeVariable) is { Length: > 0 } chunk)
        {
            var size = ConfigurationFactory.ParseString($"gpuckpt.copy.chunk-size = {HoconString.Quote(chunk)}");
            if (!IsByteSize(size, "gpuckpt.copy.chunk-size"))
                throw new Engine.Settings.EnvironmentValueException($"{ChunkSizeVariable}={chunk} is not a size (bytes, or with a unit: 4MiB, 1M, 512KiB)");
            config = size.WithFallback(config);
        }
        return overrides is null ? config : ConfigurationFactory.ParseString(overrides).WithFallback(config);
    }

    private static bool IsByteSize(Config config, string path)
    {
        try
        {
            return config.GetByteSize(path) is > 0;
        }
        catch (Exception e) when (e is FormatException or OverflowException or ConfigurationException or ArgumentException)
        {
            return false;
        }
    }
}
