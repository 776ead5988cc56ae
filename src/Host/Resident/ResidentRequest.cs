using System.Text.Json.Nodes;

namespace Gpuckpt.Host.Resident;

/// <summary>
/// What a command asks the resident engine to run, one JSON line: the job (checkpoint or restore) and its arguments,
/// and the driver, journal and gpuckpt version the command would have used, which must be the engine's own (a command
/// never has its job run by an engine of another version, one started before an upgrade say).
/// </summary>
public sealed record ResidentRequest(string Op, string Driver, string Journal, JsonObject Arguments, string Version)
{
    public const string Checkpoint = "checkpoint", Restore = "restore";

    /// <summary>This gpuckpt's version, as its images record it.</summary>
    public static string ThisVersion => Engine.Images.ImageWriter.ToolVersion;

    public JsonObject ToJson() => new()
    {
        ["op"] = Op,
        ["driver"] = Driver,
        ["journal"] = Journal,
        ["version"] = Version,
        ["arguments"] = Arguments.DeepClone(),
    };

    public static ResidentRequest FromJson(string line)
    {
        try
        {
            var json = JsonNode.Parse(line)!.AsObject();
            return new ResidentRequest(json["op"]!.GetValue<string>(), json["driver"]!.GetValue<string>(), json["journal"]!.GetValue<string>(),
                json["arguments"]!.AsObject().DeepClone().AsObject(), json["version"]?.GetValue<string>() ?? "");
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or NullReferenceException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"not a request: {(line.Length > 200 ? line[..200] + "…" : line)}", e);
        }
    }

    /// <summary>A driver as the engine compares it: sim:SOCKET with the socket's absolute path.</summary>
    public static string DriverKey(string driver) => Engine.Checkpoint.ProcessLock.Key(driver);

    /// <summary>A journal as the engine compares it: sqlite, postgres, or a .conf file's absolute path.</summary>
    public static string JournalKey(string journal) => journal is "sqlite" or "postgres" ? journal : Path.GetFullPath(journal);
}
