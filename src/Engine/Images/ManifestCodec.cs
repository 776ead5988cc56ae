using System.Globalization;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// Reads and writes manifest.json. The first line, <c>{"manifest_xxh64": "&lt;16 hex&gt;",</c>, holds the xxHash64
/// of every byte after it, so one flipped byte anywhere in the manifest is caught; the file stays plain JSON.
/// Replacing it is atomic: write manifest.json.tmp, fsync, rename over manifest.json, fsync the directory.
/// </summary>
public static class ManifestCodec
{
    private const string HeadStart = "{\"manifest_xxh64\": \"";
    private const string HeadEnd = "\",";
    private static readonly int HeadLength = HeadStart.Length + 16 + HeadEnd.Length;

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // a file, not HTML: keep '+' readable
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
        TypeInfoResolver = System.Text.Json.Serialization.Metadata.JsonTypeInfoResolver.Combine(
            ManifestJsonContext.Default, new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver()),
    };

    public static byte[] Encode(ImageManifest manifest)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(manifest, Json);
        // The body starts with '{'; the head replaces it, so the checksum covers everything after the head.
        var rest = body.AsSpan(1);
        var head = HeadStart + XxHash64.HashToUInt64(rest).ToString("x16", CultureInfo.InvariantCulture) + HeadEnd;
        var bytes = new byte[head.Length + rest.Length];
        Encoding.ASCII.GetBytes(head, bytes);
        rest.CopyTo(bytes.AsSpan(head.Length));
        return bytes;
    }

    /// <summary>Decodes a manifest, throwing <see cref="ImageException"/> naming manifest.json and what is wrong.</summary>
    public static ImageManifest Decode(ReadOnlySpan<byte> bytes)
    {
        const string name = ImageManifest.FileName;
        if (bytes.Length < HeadLength + 1)
            throw new ImageException(name, bytes.Length, $"truncated: {bytes.Length} bytes");
        var head = Encoding.ASCII.GetString(bytes[..HeadLength]);
        if (!head.StartsWith(HeadStart, StringComparison.Ordinal) || !head.EndsWith(HeadEnd, StringComparison.Ordinal)
            || !ulong.TryParse(head.AsSpan(HeadStart.Length, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var expected))
            throw new ImageException(name, 0, "no manifest checksum line (not a gpuckpt manifest, or damaged)");
        var rest = bytes[HeadLength..];
        var actual = XxHash64.HashToUInt64(rest);
        if (actual != expected)
            throw new ImageException(name, HeadLength, $"manifest checksum mismatch (recorded {expected:x16}, contents hash to {actual:x16})");
        ImageManifest? manifest;
        try
        {
            var body = new byte[rest.Length + 1];
            body[0] = (byte)'{';
            rest.CopyTo(body.AsSpan(1));
            manifest = JsonSerializer.Deserialize<ImageManifest>(body, Json);
        }
        catch (JsonException e)
        {
            throw new ImageException(name, HeadLength - 1 + (e.BytePositionInLine ?? 0), $"not a valid manifest: {JsonProblem.Describe(e)}", e);
        }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or ArgumentException or FormatException or OverflowException)
        {
            // A link without a known "type", a value out of range: the serializer's own wording names .NET types, not the file.
            throw new ImageException(name, null, $"not a valid manifest: {JsonProblem.Describe(e)}", e);
        }
        if (manifest is null) throw new ImageException(name, 0, "empty manifest");
        if (manifest.FormatVersion is < FileDigest.WholeFileFormat or > ImageManifest.CurrentFormatVersion)
            throw new ImageException(name, null, $"format version {manifest.FormatVersion}, this build reads {FileDigest.WholeFileFormat} to {ImageManifest.CurrentFormatVersion}");
        ManifestRules.Check(manifest);
        return manifest;
    }

    public static ImageManifest Load(string dir)
    {
        var path = Path.Combine(dir, ImageManifest.FileName);
        if (!File.Exists(path))
        {
            if (!System.IO.Directory.Exists(dir)) throw new ImageException(dir, null, "no such image directory");
            throw new ImageException(ImageManifest.FileName, null, $"missing in {dir}: not an image, or its writer never started");
        }
        return Decode(File.ReadAllBytes(path));
    }

    /// <summary>Replaces manifest.json atomically and durably: a reader sees the old manifest or the new one, whole.</summary>
    public static void Store(string dir, ImageManifest manifest)
    {
        FileSync.Replace(Path.Combine(dir, ImageManifest.FileName), Encode(manifest), tmp => ImageFiles.OpenWrite(tmp, FileMode.Create, FileAccess.Write));
    }
}
