using System.Text.Json;
using System.Text.Json.Nodes;

namespace Gpuckpt.Host;

/// <summary>
/// What a job's command prints and exits with, decided where the job ran (this process, or the resident engine that
/// ran it for this process: <see cref="Resident.ResidentClient"/>) and printed here. A success carries its JSON and its
/// lines of text; a failure carries the one error line, its detail fields and, where there is one, what the user can do.
/// </summary>
public sealed record CommandOutcome(int Code, JsonObject? Json, IReadOnlyList<string> Lines, string? Error = null, JsonObject? ErrorDetail = null, string? Advice = null)
{
    public static CommandOutcome Success(object json, params string[] lines) =>
        new(Cli.ExitOk, JsonSerializer.SerializeToNode(json, Cli.Json)!.AsObject(), lines);

    public static CommandOutcome Failure(string message, int code, object? detail = null, string? advice = null) =>
        new(code, null, [], message, detail is null ? null : JsonSerializer.SerializeToNode(detail, Cli.Json)!.AsObject(), advice);

    /// <summary>This outcome with <paramref name="name"/> = <paramref name="value"/> added to its JSON (a success's only).</summary>
    public CommandOutcome With(string name, string value)
    {
        if (Json is null) return this;
        var json = Json.DeepClone().AsObject();
        json[name] = value;
        return this with { Json = json };
    }

    /// <summary>Prints it as the command's own output (<see cref="Cli.Error"/> for a failure) and returns the exit code.</summary>
    public int Print(bool json)
    {
        if (Error is not null)
        {
            var code = Cli.Error(Error, Code, ErrorDetail);
            if (Advice is not null) Console.Error.WriteLine($"gpuckpt: {Advice}");
            return code;
        }
        if (json) Console.Out.WriteLine(Json?.ToJsonString(Cli.Json) ?? "{}");
        else foreach (var line in Lines) Console.Out.WriteLine(line);
        return Code;
    }

    public JsonObject ToJson() => new()
    {
        ["code"] = Code,
        ["json"] = Json?.DeepClone(),
        ["lines"] = new JsonArray([.. Lines.Select(l => (JsonNode?)JsonValue.Create(l))]),
        ["error"] = Error,
        ["error_detail"] = ErrorDetail?.DeepClone(),
        ["advice"] = Advice,
    };

    /// <summary>The outcome <see cref="ToJson"/> wrote; one that is not is an <see cref="InvalidDataException"/>.</summary>
    public static CommandOutcome FromJson(JsonObject json)
    {
        try
        {
            return new CommandOutcome(json["code"]!.GetValue<int>(), json["json"]?.DeepClone().AsObject(),
                [.. json["lines"]!.AsArray().Select(l => l!.GetValue<string>())], json["error"]?.GetValue<string>(),
                json["error_detail"]?.DeepClone().AsObject(), json["advice"]?.GetValue<string>());
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"the resident engine's answer is not an outcome: {json.ToJsonString()}", e);
        }
    }
}
