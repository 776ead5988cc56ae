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
        Collect(message, new List<(string Field, int Index)>(), missing);
        return missing;
    }

    /// <summary>
    /// Walks every field of every message once; a field's path is spelled out only when it is missing (a KFD file of
    /// 100 000 BOs has a million fields that are not).
    /// </summary>
    private static void Collect(IMessage message, List<(string Field, int Index)> path, List<string> missing)
    {
        foreach (var field in message.Descriptor.Fields.InFieldNumberOrder())
        {
            if (field.IsRepeated)
            {
                if (field.FieldType != FieldType.Message) continue;
                var i = 0;
                foreach (var item in (System.Collections.IEnumerable)field.Accessor.GetValue(message))
                {
                    path.Add((field.Name, i++));
                    Collect((IMessage)item, path, missing);
                    path.RemoveAt(path.Count - 1);
                }
            }
            else if (field.IsRequired && !field.Accessor.HasValue(message))
            {
                missing.Add(Spell(path, field.Name));
            }
            else if (field.FieldType == FieldType.Message && field.Accessor.HasValue(message))
            {
                path.Add((field.Name, -1));
                Collect((IMessage)field.Accessor.GetValue(message), path, missing);
                path.RemoveAt(path.Count - 1);
            }
        }
    }

    /// <summary>Nested fields joined by dots, a repeated one with its index: <c>bo_entries[3].gpu_id</c>.</summary>
    private static string Spell(List<(string Field, int Index)> path, string field)
    {
        var name = new System.Text.StringBuilder();
        foreach (var (outer, index) in path)
        {
            name.Append(outer);
            if (index >= 0) name.Append('[').Append(index).Append(']');
            name.Append('.');
        }
        return name.Append(field).ToString();
    }
}
