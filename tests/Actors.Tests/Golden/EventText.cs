using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Gpuckpt.Actors.Tests.Golden;

/// <summary>
/// An event or snapshot as text that holds every field: a value typed as one of the project's interfaces (an outcome)
/// is written with its runtime type, and object keys and sets are sorted, so equal values give equal text.
/// </summary>
internal static class EventText
{
    private static readonly JsonSerializerOptions Options = new() { Converters = { new RuntimeTyped(), new SortedSet() } };

    public static string Of(object value) => Sorted(JsonSerializer.SerializeToNode(value, value.GetType(), Options))?.ToJsonString() ?? "null";

    private static JsonNode? Sorted(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Sorted(p.Value?.DeepClone())))),
        JsonArray a => new JsonArray([.. a.Select(v => Sorted(v?.DeepClone()))]),
        _ => node?.DeepClone(),
    };

    private sealed class RuntimeTyped : JsonConverterFactory
    {
        public override bool CanConvert(Type type) => type.IsInterface && type.Namespace?.StartsWith("Gpuckpt.", StringComparison.Ordinal) == true;

        public override JsonConverter CreateConverter(Type type, JsonSerializerOptions options) =>
            (JsonConverter)Activator.CreateInstance(typeof(Writer<>).MakeGenericType(type))!;

        private sealed class Writer<T> : JsonConverter<T> where T : class
        {
            public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
                throw new NotSupportedException("event text is written only");

            public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options)
            {
                writer.WriteStartObject();
                writer.WriteString("$type", value.GetType().Name);
                writer.WritePropertyName("value");
                JsonSerializer.Serialize(writer, value, value.GetType(), options);
                writer.WriteEndObject();
            }
        }
    }

    private sealed class SortedSet : JsonConverter<HashSet<string>>
    {
        public override HashSet<string> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            throw new NotSupportedException("event text is written only");

        public override void Write(Utf8JsonWriter writer, HashSet<string> value, JsonSerializerOptions options) =>
            JsonSerializer.Serialize(writer, value.Order(StringComparer.Ordinal).ToArray(), options);
    }
}
