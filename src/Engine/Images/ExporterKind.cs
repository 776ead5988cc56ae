using System.Text.Json.Serialization;

namespace Gpuckpt.Engine.Images;

/// <summary>Which side exported the dmabuf that a render-node BO imports.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ExporterKind>))]
public enum ExporterKind
{
    /// <summary>A KFD BO, found by its GPU and its GPU virtual address.</summary>
    [JsonStringEnumMemberName("kfd")]
    Kfd,

    /// <summary>A render-node BO, found by its render node's image id and its GEM handle.</summary>
    [JsonStringEnumMemberName("render")]
    Render,
}
