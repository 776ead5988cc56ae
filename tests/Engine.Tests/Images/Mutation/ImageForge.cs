using System.IO.Hashing;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Engine.Tests.Images.Mutation;

/// <summary>
/// What a forger with write access to an image can do beyond damage: edit manifest.json and seal it again (its
/// checksum line recomputed), or rewrite a file and record its new size and checksum in the manifest, so that every
/// checksum passes. Only the image's own rules, or a signature, can catch these.
/// </summary>
internal static class ImageForge
{
    private const string HeadStart = "{\"manifest_xxh64\": \"";

    public static JsonObject ReadManifest(string dir)
    {
        var text = File.ReadAllText(Path.Combine(dir, ImageManifest.FileName));
        var head = text.IndexOf('\n');
        return (JsonObject)JsonNode.Parse("{" + text[(head + 1)..])!;
    }

    /// <summary>Writes <paramref name="body"/> (or raw JSON text) as manifest.json with a checksum line that matches it.</summary>
    public static void Seal(string dir, JsonObject body) => SealText(dir, body.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    public static void SealText(string dir, string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        var brace = Array.IndexOf(bytes, (byte)'{');
        var rest = bytes.AsSpan(brace + 1).ToArray();
        var head = HeadStart + XxHash64.HashToUInt64(rest).ToString("x16") + "\",";
        File.WriteAllBytes(Path.Combine(dir, ImageManifest.FileName), [.. Encoding.ASCII.GetBytes(head), .. rest]);
    }

    /// <summary>Edits the manifest and seals it again.</summary>
    public static void Reseal(string dir, Action<JsonObject> edit)
    {
        var body = ReadManifest(dir);
        edit(body);
        Seal(dir, body);
    }

    /// <summary>Replaces a file's bytes and records them in the manifest as one checksummed segment, sealed.</summary>
    public static void RewriteFile(string dir, string name, byte[] bytes)
    {
        File.WriteAllBytes(Path.Combine(dir, name), bytes);
        Reseal(dir, m => Record(m, name, bytes));
    }

    /// <summary>The manifest entry of <paramref name="name"/> now says: this size, one segment with this hash.</summary>
    public static void Record(JsonObject manifest, string name, byte[] bytes)
    {
        var entry = manifest["files"]!.AsArray().First(f => f!["name"]!.GetValue<string>() == name)!.AsObject();
        entry["size"] = bytes.LongLength;
        entry["segments"] = new JsonArray(new JsonObject
        {
            ["offset"] = 0, ["length"] = bytes.LongLength, ["xxh64"] = XxHash64.HashToUInt64(bytes).ToString("x16"), ["zero"] = false,
        });
    }

    /// <summary>A message file's payload as a length-prefixed file.</summary>
    public static byte[] WithPrefix(ReadOnlySpan<byte> payload)
    {
        var bytes = new byte[LengthPrefix.Size + payload.Length];
        LengthPrefix.Write(bytes, payload.Length);
        payload.CopyTo(bytes.AsSpan(LengthPrefix.Size));
        return bytes;
    }

    public static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }
}
