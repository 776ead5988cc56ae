using System.Text.Json;
using System.Text.Json.Serialization;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Engine.Transfer;

/// <summary>
/// How far the source of a whole-process migration got, kept as <c>migration.json</c> in the directory that holds its
/// dump, so that a node killed in the middle continues the migration when it starts again. Each step is written before
/// the source acts on it, and the file is replaced atomically (a temporary file, fsync, rename, fsync of the
/// directory): a crash leaves the old step or the new one.
/// </summary>
public sealed record CriuMigrationRecord(
    [property: JsonPropertyName("format")] int Format,
    [property: JsonPropertyName("migration_id")] string MigrationId,
    [property: JsonPropertyName("from")] string From,
    [property: JsonPropertyName("to")] string To,
    [property: JsonPropertyName("source")] ProcessIdentity Source,
    [property: JsonPropertyName("under_kernel")] bool UnderKernel,
    [property: JsonPropertyName("step")] CriuMigrationStep Step)
{
    public const string FileName = "migration.json";
    public const int CurrentFormat = 1;

    public static CriuMigrationRecord Start(string migrationId, string from, string to, ProcessIdentity source, bool underKernel) =>
        new(CurrentFormat, migrationId, from, to, source, underKernel, CriuMigrationStep.Dumping);

    /// <summary>The record in <paramref name="dir"/>; null when none was written (the source had touched nothing yet).</summary>
    public static CriuMigrationRecord? Read(string dir)
    {
        var path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) return null;
        CriuMigrationRecord? record;
        try
        {
            record = JsonSerializer.Deserialize<CriuMigrationRecord>(File.ReadAllBytes(path), Options);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a whole-process migration record: {e.Message}", e);
        }
        if (record is null || record.Source is null || string.IsNullOrEmpty(record.MigrationId))
            throw new InvalidDataException($"{path}: not a whole-process migration record");
        if (record.Format != CurrentFormat)
            throw new InvalidDataException($"{path}: written in record format {record.Format}; this gpuckpt reads format {CurrentFormat}");
        return record;
    }

    /// <summary>Replaces the record in <paramref name="dir"/> durably with this one.</summary>
    public void Write(string dir)
    {
        Directory.CreateDirectory(dir);
        FileSync.Replace(Path.Combine(dir, FileName), JsonSerializer.SerializeToUtf8Bytes(this, Options));
    }

    private static readonly JsonSerializerOptions Options = new() { Converters = { new JsonStringEnumConverter<CriuMigrationStep>(JsonNamingPolicy.KebabCaseLower) } };
}
