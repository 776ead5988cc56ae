using System.Text.Json.Nodes;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Engine.Tests.Images.Mutation;

/// <summary>Edits of manifest.json a forger could seal again: members removed, nulled, retyped, names, sizes, states, links, topology.</summary>
internal static class ManifestEdits
{
    /// <summary>Members whose absence or null makes the manifest unusable (the rest have defaults).</summary>
    private static readonly string[] Required = ["tool_version", "image_id", "created", "source", "topology", "state", "files"];

    private static readonly string[] BadNames =
    [
        "../amdgpu-kfd-1.img", "/etc/passwd", "amdgpu-kfd-1.img\n", "sub/amdgpu-kfd-1.img", "amdgpu-kfd-01.img",
        "amdgpu-kfd-\u0661.img", "..", "", "amdgpu-pages-1-ABCD.img", "amdgpu-drm-pages-2-128-0000.img/..",
    ];

    public const string NoLinks = "no links to edit";

    public static (string What, bool MustRefuse) Apply(string dir, Random r, RealImage img)
    {
        var m = ImageForge.ReadManifest(dir);
        var files = m["files"]!.AsArray();
        var file = files[r.Next(files.Count)]!.AsObject();
        var segments = file["segments"]!.AsArray();
        string what;
        var mustRefuse = true;
        switch (r.Next(14))
        {
            case 0:
            {
                var key = Pick(r, [.. Required, "format_version", "finished", "links", "extra"]);
                m.Remove(key);
                what = $"{key} removed";
                mustRefuse = Required.Contains(key);
                break;
            }
            case 1:
            {
                var key = Pick(r, [.. Required, "links", "extra", "finished", "failure_reason"]);
                m[key] = null;
                what = $"{key} set to null";
                mustRefuse = key is not ("finished" or "failure_reason");
                break;
            }
            case 2:
            {
                var key = Pick(r, ["name", "size", "segments"]);
                if (r.Next(2) == 0) file.Remove(key);
                else file[key] = null;
                what = $"files[].{key} removed or null";
                break;
            }
            case 3:
            {
                var key = Pick(r, ["tool_version", "created", "state", "files", "topology", "source", "format_version"]);
                m[key] = r.Next(3) switch { 0 => JsonValue.Create(12345), 1 => new JsonArray(), _ => new JsonObject { ["x"] = 1 } };
                what = $"{key} given a value of the wrong type";
                break;
            }
            case 4:
                files.Add(file.DeepClone());
                what = $"{file["name"]} listed twice";
                break;
            case 5:
            {
                var name = Pick(r, BadNames);
                file["name"] = name;
                what = $"a file renamed '{ManifestRules.Printable(name)}'";
                break;
            }
            case 6:
            {
                var value = Pick(r, [long.MaxValue, -1L, 0L, file["size"]!.GetValue<long>() + 1, 1L << 62]);
                file["size"] = value;
                what = $"{file["name"]}: size set to {value}";
                break;
            }
            case 7:
            {
                var segment = segments[r.Next(segments.Count)]!.AsObject();
                var key = Pick(r, ["offset", "length"]);
                var value = Pick(r, [long.MaxValue, -1L, long.MaxValue - 3, 1L << 40]);
                segment[key] = value;
                what = $"{file["name"]}: a segment's {key} set to {value}";
                break;
            }
            case 8:
            {
                JsonNode value = Pick<JsonNode>(r, [JsonValue.Create("bogus"), JsonValue.Create(7), JsonValue.Create("in-progress"), JsonValue.Create("failed")]);
                m["state"] = value;
                what = $"state set to {value.ToJsonString()}";
                break;
            }
            case 9:
            {
                var links = m["links"]!.AsArray();
                if (links.Count == 0) return (NoLinks, false);
                var link = links[r.Next(links.Count)]!.AsObject();
                switch (r.Next(5))
                {
                    case 0: link.Remove("type"); what = "a link without its type"; break;
                    case 1: link["type"] = "bogus"; what = "a link of type bogus"; break;
                    case 2: link["gem_handle"] = link["gem_handle"]!.GetValue<uint>() + 1000; what = "a link's gem_handle changed"; break;
                    case 3: links.Add(link.DeepClone()); what = "a link recorded twice"; break;
                    default:
                        link["exporter_gpu_id"] = 0xdead;
                        what = "a link's exporter_gpu_id changed";
                        break;
                }
                break;
            }
            case 10:
            {
                var topology = m["topology"]!.AsArray();
                var gpu = topology[r.Next(topology.Count)]!.AsObject();
                var key = Pick(r, ["simd_count", "device_id", "vram_size", "drm_render_minor", "num_sdma_engines"]);
                gpu[key] = gpu[key]!.GetValue<ulong>() + 1;
                what = $"topology: a GPU's {key} changed";
                break;
            }
            case 11:
            {
                var topology = m["topology"]!.AsArray();
                if (r.Next(2) == 0) topology.Add(topology[0]!.DeepClone());
                else topology.RemoveAt(r.Next(topology.Count));
                what = "topology: a GPU duplicated or removed";
                break;
            }
            case 12:
                m["format_version"] = Pick(r, [0, ImageManifest.CurrentFormatVersion + 1, -1, int.MaxValue]);
                what = $"format_version set to {m["format_version"]}";
                break;
            default:
                // Cosmetic: nothing a restore depends on.
                m["image_id"] = Guid.NewGuid().ToString("N");
                ((JsonObject)(m["extra"] ??= new JsonObject()))["forged"] = "yes";
                what = "image_id and extra changed";
                mustRefuse = false;
                break;
        }
        ImageForge.Seal(dir, m);
        return (what, mustRefuse);
    }

    private static T Pick<T>(Random r, IReadOnlyList<T> items) => items[r.Next(items.Count)];
}
