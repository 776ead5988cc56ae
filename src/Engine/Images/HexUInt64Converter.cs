using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gpuckpt.Engine.Images;

/// <summary>Writes a 64-bit checksum as 16 hex digits: JSON readers that hold numbers as doubles would round it.</summary>
public sealed class HexUInt64Converter : JsonConverter<ulong>
{
    public override ulong Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var text = reader.GetString();
        if (text is not { Length: 16 } || !ulong.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
            throw new JsonException($"expected 16 hex digits, found '{text}'");
        return value;
    }

    public override void Write(Utf8JsonWriter writer, ulong value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString("x16", CultureInfo.InvariantCulture));
}
