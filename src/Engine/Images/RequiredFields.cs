using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// The schema is proto2 with every field required, and CRIU's protobuf-c refuses a message with one unset, so a
/// file with an unset field would be unreadable by CRIU. This names the unset ones, nested paths included.
/// </summary>
public static class RequiredFields
{
    public static IReadOnlyList<string> Missing(IMessage message)
    {
        var missing = new List<string>();
        Collect(message, "", missing);
        return missing;
    }

    private static void Collect(IMessage message, string path, List<string> missing)
    {
        foreach (var field in message.Descriptor.Fields.InFieldNumberOrder())
        {
            var name = path + field.Name;
            if (field.IsRepeated)
            {
                if (field.FieldType != FieldType.Message) continue;
                var i = 0;
                foreach (var item in (System.Collections.IEnumerable)field.Accessor.GetValue(message))
                    Collect((IMessage)item, $"{name}[{i++}].", missing);
            }
            else if (field.IsRequired && !field.Accessor.HasValue(message))
            {
                missing.Add(name);
            }
            else if (field.FieldType == FieldType.Message && field.Accessor.HasValue(message))
            {
                Collect((IMessage)field.Accessor.GetValue(message), name + ".", missing);
            }
        }
    }
}
