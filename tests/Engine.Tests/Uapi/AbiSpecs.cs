using Xunit;
using System.Text.Json;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Tests.Uapi;

public sealed class AbiSpecs
{
    [Fact]
    public void Every_struct_field_ioctl_and_constant_equals_what_the_C_headers_say()
    {
        using var c = CHeaderAbi.Run();
        using var ours = JsonDocument.Parse(AbiCatalog.ToJson());
        var mismatches = Compare(ours.RootElement, "C#", c.RootElement, "C headers");
        Assert.True(mismatches.Count == 0, "ABI differs from the C headers:\n" + string.Join("\n", mismatches));
    }

    [Fact]
    public void Missing_gcc_or_headers_fail_naming_the_package_to_install()
    {
        var nowhere = Path.Combine(Path.GetTempPath(), $"gpuckpt-no-such-dir-{Guid.NewGuid():n}");
        var noGcc = Assert.Throws<InvalidOperationException>(() => CHeaderAbi.Run(searchPath: nowhere));
        Assert.Contains("apt-get install gcc", noGcc.Message);
        var noKfd = Assert.Throws<InvalidOperationException>(() => CHeaderAbi.Run(kfdHeader: Path.Combine(nowhere, "kfd_ioctl.h")));
        Assert.Contains("apt-get install linux-libc-dev", noKfd.Message);
        var noDrm = Assert.Throws<InvalidOperationException>(() => CHeaderAbi.Run(libdrmDir: nowhere));
        Assert.Contains("apt-get install libdrm-dev", noDrm.Message);
    }

    [Fact]
    public void Gpuckpt_abi_json_prints_what_the_C_headers_say()
    {
        var host = Path.Combine(AppContext.BaseDirectory, "gpuckpt.dll");
        Assert.True(File.Exists(host), $"{host} missing: the test project references the Host");
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } p ? p : "dotnet";
        var (rc, stdout, stderr) = CHeaderAbi.Exec(dotnet, [host, "abi", "--json"]);
        Assert.True(rc == 0, $"gpuckpt abi --json exited {rc}: {stderr}");

        using var printed = JsonDocument.Parse(stdout);
        using var c = CHeaderAbi.Run();
        var mismatches = Compare(printed.RootElement, "gpuckpt abi --json", c.RootElement, "C headers");
        Assert.True(mismatches.Count == 0, "gpuckpt abi --json differs from the C headers:\n" + string.Join("\n", mismatches));
    }

    [Fact]
    public void Abi_text_table_names_every_struct_and_ioctl()
    {
        var host = Path.Combine(AppContext.BaseDirectory, "gpuckpt.dll");
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } p ? p : "dotnet";
        var (rc, stdout, stderr) = CHeaderAbi.Exec(dotnet, [host, "abi"]);
        Assert.True(rc == 0, $"gpuckpt abi exited {rc}: {stderr}");
        foreach (var s in AbiCatalog.Structs) Assert.Contains($"{s.CType}  size {s.Size}", stdout);
        foreach (var v in AbiCatalog.Ioctls) Assert.Contains($"0x{v.Value:x8}  {v.Name}", stdout);
    }

    [Fact]
    public void Every_struct_declared_in_Uapi_is_in_the_catalog_with_every_field()
    {
        var declared = typeof(AbiCatalog).Assembly.GetTypes()
            .Where(t => t.Namespace == typeof(AbiCatalog).Namespace && t.IsValueType && !t.IsEnum && t.IsPublic)
            .ToArray();
        Assert.NotEmpty(declared);
        foreach (var t in declared)
        {
            var entry = AbiCatalog.Structs.SingleOrDefault(s => s.ClrType == t);
            Assert.True(entry is not null, $"{t.Name} is declared in Uapi but not in AbiCatalog, so nothing proves its layout");
            var fields = t.GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance).Select(f => f.Name);
            Assert.Equal(fields.Order(), entry!.Fields.Select(f => f.CsName).Order());
        }
    }

    [Fact]
    public void Every_ioctl_encodes_the_size_of_its_argument_struct()
    {
        var expected = new Dictionary<string, string>
        {
            ["AMDKFD_IOC_GET_VERSION"] = "kfd_ioctl_get_version_args",
            ["AMDKFD_IOC_CRIU_OP"] = "kfd_ioctl_criu_args",
            ["DRM_IOCTL_GEM_CLOSE"] = "drm_gem_close",
            ["DRM_IOCTL_PRIME_HANDLE_TO_FD"] = "drm_prime_handle",
            ["DRM_IOCTL_PRIME_FD_TO_HANDLE"] = "drm_prime_handle",
            ["DRM_IOCTL_GEM_CHANGE_HANDLE"] = "drm_gem_change_handle",
            ["DRM_IOCTL_AMDGPU_GEM_CREATE"] = "drm_amdgpu_gem_create",
            ["DRM_IOCTL_AMDGPU_GEM_MMAP"] = "drm_amdgpu_gem_mmap",
            ["DRM_IOCTL_AMDGPU_GEM_VA"] = "drm_amdgpu_gem_va",
            ["DRM_IOCTL_AMDGPU_CTX"] = "drm_amdgpu_ctx",
            ["DRM_IOCTL_AMDGPU_CS"] = "drm_amdgpu_cs",
            ["DRM_IOCTL_AMDGPU_WAIT_CS"] = "drm_amdgpu_wait_cs",
            ["DRM_IOCTL_AMDGPU_GEM_OP"] = "drm_amdgpu_gem_op",
            ["DRM_IOCTL_AMDGPU_GEM_LIST_HANDLES"] = "drm_amdgpu_gem_list_handles",
            ["DRM_IOCTL_AMDGPU_CRIU_OP"] = "drm_amdgpu_criu_args",
            ["DRM_IOCTL_AMDGPU_CRIU_BO_INFO"] = "drm_amdgpu_criu_bo_info_args",
            ["DRM_IOCTL_AMDGPU_CRIU_MAPPING_INFO"] = "drm_amdgpu_criu_mapping_info_args",
        };
        Assert.Equal(expected.Keys.Order(), AbiCatalog.Ioctls.Select(i => i.Name).Order());
        foreach (var ioctl in AbiCatalog.Ioctls)
        {
            var s = AbiCatalog.Structs.Single(x => x.Name == expected[ioctl.Name]);
            Assert.True(IoctlNumber.Size((uint)ioctl.Value) == s.Size,
                $"{ioctl.Name} encodes size {IoctlNumber.Size((uint)ioctl.Value)}, struct {s.Name} is {s.Size} bytes");
        }
    }

    [Theory]
    [InlineData("\"offset_in_bo\":24", "\"offset_in_bo\":20", "drm_amdgpu_gem_va.offset_in_bo: C# 20, C headers 24")]
    [InlineData("\"alignment\":32", "\"alignment\":24", "drm_amdgpu_gem_list_handles_entry.alignment: C# 24, C headers 32")]
    [InlineData("\"num_entries\":16", "\"num_entries\":12", "drm_amdgpu_gem_op.num_entries: C# 12, C headers 16")]
    public void A_wrong_offset_is_reported_with_struct_and_field(string right, string wrong, string message)
    {
        using var c = CHeaderAbi.Run();
        var json = AbiCatalog.ToJson();
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(json, System.Text.RegularExpressions.Regex.Escape(right)));
        using var ours = JsonDocument.Parse(json.Replace(right, wrong, StringComparison.Ordinal));
        var mismatches = Compare(ours.RootElement, "C#", c.RootElement, "C headers");
        var only = Assert.Single(mismatches);
        Assert.Equal(message, only);
    }

    [Fact]
    public void The_mainline_declaration_agrees_with_the_installed_amdgpu_header_on_every_member_both_have()
    {
        // Debian 12's amdgpu_drm.h (libdrm 2.4.114) has these members; mainline grew gem_va and gem_op behind them.
        var older = new Dictionary<string, string[]>
        {
            ["drm_amdgpu_gem_create"] = ["in.bo_size", "in.alignment", "in.domains", "in.domain_flags", "out.handle"],
            ["drm_amdgpu_gem_mmap"] = ["in.handle", "in._pad", "out.addr_ptr"],
            ["drm_amdgpu_gem_va"] = ["handle", "_pad", "operation", "flags", "va_address", "offset_in_bo", "map_size"],
            ["drm_amdgpu_gem_op"] = ["handle", "op", "value"],
            ["drm_amdgpu_ctx"] = ["in.op", "in.flags", "in.ctx_id", "in.priority"],
            ["drm_amdgpu_cs"] = ["in.ctx_id", "in.bo_list_handle", "in.num_chunks", "in.flags", "in.chunks"],
            ["drm_amdgpu_cs_chunk"] = ["chunk_id", "length_dw", "chunk_data"],
            ["drm_amdgpu_cs_chunk_ib"] = ["_pad", "flags", "va_start", "ib_bytes", "ip_type", "ip_instance", "ring"],
            ["drm_amdgpu_wait_cs"] = ["in.handle", "in.timeout", "in.ip_type", "in.ip_instance", "in.ring", "in.ctx_id"],
            ["drm_amdgpu_bo_list_in"] = ["operation", "list_handle", "bo_number", "bo_info_size", "bo_info_ptr"],
            ["drm_amdgpu_bo_list_entry"] = ["bo_handle", "bo_priority"],
        };
        var values = AbiCatalog.Constants.Where(v => v.Name.StartsWith("AMDGPU_", StringComparison.Ordinal) && !AbiCatalog.IsProposal(v.Origin)
                                                     && v.Name is not ("AMDGPU_GEM_OP_GET_MAPPING_INFO" or "AMDGPU_GEM_LIST_HANDLES_FLAG_IS_IMPORT"))
            .Select(v => v.Name).ToList();
        using var installed = CHeaderAbi.RunInstalled(older.Select(kv => (AbiCatalog.Structs.Single(s => s.Name == kv.Key), kv.Value)).ToList(), values);

        var diffs = new List<string>();
        foreach (var (name, members) in older)
        {
            var ours = AbiCatalog.Structs.Single(s => s.Name == name);
            var theirs = installed.RootElement.GetProperty("structs").GetProperty(name);
            var size = theirs.GetProperty("size").GetInt64();
            if (size > ours.Size) diffs.Add($"{name}: installed {size} bytes, mainline declaration {ours.Size}");
            foreach (var member in members)
            {
                var offset = theirs.GetProperty("fields").GetProperty(member).GetInt64();
                var mine = ours.Fields.Single(f => f.CName == member).Offset;
                if (offset != mine) diffs.Add($"{name}.{member}: installed {offset}, mainline declaration {mine}");
            }
        }
        foreach (var name in values)
        {
            var theirs = installed.RootElement.GetProperty("constants").GetProperty(name).GetUInt64();
            var mine = AbiCatalog.Constants.Single(v => v.Name == name).Value;
            if (theirs != mine) diffs.Add($"{name}: installed 0x{theirs:x}, mainline declaration 0x{mine:x}");
        }
        Assert.True(diffs.Count == 0, string.Join("\n", diffs));
        Assert.Equal(23, values.Count);
    }

    [Fact]
    public void Every_request_the_engine_issues_is_mainline_and_no_proposal_is_among_them()
    {
        var issued = typeof(DrmIoctls).GetFields().Concat(typeof(KfdIoctls).GetFields())
            .Where(f => f.IsStatic && !f.IsLiteral && f.FieldType == typeof(uint))
            .Select(f => (uint)f.GetValue(null)!)
            .ToList();
        Assert.Equal(14, issued.Count);
        foreach (var request in issued)
        {
            var entry = AbiCatalog.Ioctls.Where(v => v.Value == request && !AbiCatalog.IsProposal(v.Origin)).ToList();
            Assert.True(entry.Count == 1, $"request 0x{request:x8} is not one mainline entry of the catalog");
        }
        var proposals = AbiCatalog.Ioctls.Where(v => AbiCatalog.IsProposal(v.Origin)).ToList();
        Assert.Equal(3, proposals.Count);

        // The trap the proposal left: BO_INFO has GEM_LIST_HANDLES' request number, but its entries are 8 bytes shorter.
        Assert.Equal(DrmIoctls.AmdgpuGemListHandles, AmdgpuCriuProposals.CriuBoInfo);
        Assert.Equal(40, Sizes.Of<DrmAmdgpuGemListHandlesEntry>());
        Assert.Equal(32, Sizes.Of<DrmAmdgpuCriuBoBucket>());
    }

    /// <summary>Every entry of <paramref name="a"/> against <paramref name="b"/> and back: one line per difference, naming struct and field.</summary>
    internal static List<string> Compare(JsonElement a, string aName, JsonElement b, string bName)
    {
        var diffs = new List<string>();
        var aStructs = a.GetProperty("structs");
        var bStructs = b.GetProperty("structs");
        foreach (var s in aStructs.EnumerateObject())
        {
            if (!bStructs.TryGetProperty(s.Name, out var other)) { diffs.Add($"{s.Name}: missing from {bName}"); continue; }
            Number(diffs, $"{s.Name} size", s.Value.GetProperty("size"), aName, other.GetProperty("size"), bName);
            var otherFields = other.GetProperty("fields");
            foreach (var f in s.Value.GetProperty("fields").EnumerateObject())
            {
                if (!otherFields.TryGetProperty(f.Name, out var of)) diffs.Add($"{s.Name}.{f.Name}: missing from {bName}");
                else Number(diffs, $"{s.Name}.{f.Name}", f.Value, aName, of, bName);
            }
            foreach (var f in otherFields.EnumerateObject())
                if (!s.Value.GetProperty("fields").TryGetProperty(f.Name, out _)) diffs.Add($"{s.Name}.{f.Name}: missing from {aName}");
        }
        foreach (var s in bStructs.EnumerateObject())
            if (!aStructs.TryGetProperty(s.Name, out _)) diffs.Add($"{s.Name}: missing from {aName}");
        foreach (var section in new[] { "ioctls", "constants" })
        {
            var av = a.GetProperty(section);
            var bv = b.GetProperty(section);
            foreach (var v in av.EnumerateObject())
            {
                if (!bv.TryGetProperty(v.Name, out var o)) diffs.Add($"{section} {v.Name}: missing from {bName}");
                else Number(diffs, v.Name, v.Value, aName, o, bName, hex: true);
            }
            foreach (var v in bv.EnumerateObject())
                if (!av.TryGetProperty(v.Name, out _)) diffs.Add($"{section} {v.Name}: missing from {aName}");
        }
        return diffs;
    }

    private static void Number(List<string> diffs, string what, JsonElement a, string aName, JsonElement b, string bName, bool hex = false)
    {
        var x = a.GetUInt64();
        var y = b.GetUInt64();
        if (x != y) diffs.Add(hex ? $"{what}: {aName} 0x{x:x}, {bName} 0x{y:x}" : $"{what}: {aName} {x}, {bName} {y}");
    }
}
