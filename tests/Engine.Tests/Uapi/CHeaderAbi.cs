using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Gpuckpt.Engine.Uapi;
using Gpuckpt.Tests.Support;

namespace Gpuckpt.Engine.Tests.Uapi;

/// <summary>
/// Compiles a C program that prints, for every name in <see cref="AbiCatalog"/>, what sizeof/offsetof and the ioctl
/// macros say: the JSON `gpuckpt abi --json` prints. KFD and DRM core come from the installed headers; the amdgpu
/// render-node part from the mainline declaration (amdgpu_drm_mainline.h, which Debian 12's headers predate); the
/// unmerged proposals from their own declaration. <see cref="RunInstalled"/> compiles against the installed
/// amdgpu_drm.h instead, to hold the mainline declaration to what both have.
/// </summary>
internal static class CHeaderAbi
{
    public const string KfdHeader = "/usr/include/linux/kfd_ioctl.h";
    public const string LibdrmDir = "/usr/include/libdrm";

    public static string ProposalsHeader([CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "amdgpu_criu_proposals.h");

    public static string MainlineHeader([CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "amdgpu_drm_mainline.h");

    private static readonly string[] CatalogIncludes =
        ["<linux/kfd_ioctl.h>", "<linux/kfd_sysfs.h>", "<drm/drm.h>", "\"amdgpu_drm_mainline.h\"", "\"amdgpu_criu_proposals.h\""];

    /// <summary>The JSON the C program prints; fails loudly, naming the apt package, when gcc or a header is missing.</summary>
    public static JsonDocument Run(string? searchPath = null, string kfdHeader = KfdHeader, string libdrmDir = LibdrmDir)
    {
        var gcc = FindOnPath("gcc", searchPath ?? Environment.GetEnvironmentVariable("PATH") ?? "") ?? throw new InvalidOperationException(
            "gcc not found on PATH: the ABI proof compiles against the C headers (apt-get install gcc)");
        if (!File.Exists(kfdHeader))
            throw new InvalidOperationException($"{kfdHeader} missing: apt-get install linux-libc-dev");
        foreach (var h in new[] { "drm.h", "amdgpu_drm.h" })
            if (!File.Exists(Path.Combine(libdrmDir, h)))
                throw new InvalidOperationException($"{libdrmDir}/{h} missing: apt-get install libdrm-dev");
        return Compile(gcc, Program(CatalogIncludes, AbiCatalog.Structs.Select(st => (st, st.Fields.Select(f => f.CName).ToArray())).ToList(),
            AbiCatalog.Ioctls.Select(v => v.Name).ToList(), AbiCatalog.Constants.Select(v => v.Name).ToList()));
    }

    /// <summary>
    /// The same JSON for <paramref name="structs"/> (only the members named) and <paramref name="values"/>, compiled
    /// against the installed &lt;amdgpu_drm.h&gt; (libdrm) and no mainline or proposal declarations.
    /// </summary>
    public static JsonDocument RunInstalled(IReadOnlyList<(AbiStruct Struct, string[] Members)> structs, IReadOnlyList<string> values)
    {
        var gcc = FindOnPath("gcc", Environment.GetEnvironmentVariable("PATH") ?? "") ?? throw new InvalidOperationException(
            "gcc not found on PATH: the ABI proof compiles against the C headers (apt-get install gcc)");
        return Compile(gcc, Program(["<linux/kfd_ioctl.h>", "<drm/drm.h>", "<amdgpu_drm.h>"], structs, [], values));
    }

    private static JsonDocument Compile(string gcc, string program)
    {
        foreach (var header in new[] { ProposalsHeader(), MainlineHeader() })
            if (!File.Exists(header)) throw new InvalidOperationException($"{header} missing from the test sources");
        var dir = Directory.CreateTempSubdirectory("gpuckpt-abi-");
        try
        {
            // kfd_ioctl.h includes <drm/drm.h>; libdrm installs it as libdrm/drm.h.
            File.CreateSymbolicLink(Path.Combine(dir.FullName, "drm"), LibdrmDir);
            foreach (var header in new[] { ProposalsHeader(), MainlineHeader() })
                File.Copy(header, Path.Combine(dir.FullName, Path.GetFileName(header)));
            var source = Path.Combine(dir.FullName, "abi.c");
            File.WriteAllText(source, program);
            var exe = Path.Combine(dir.FullName, "abi");
            var (rc, _, err) = Exec(gcc, ["-std=gnu11", "-Wall", "-Werror", "-I", dir.FullName, "-I", LibdrmDir, "-o", exe, source]);
            if (rc != 0) throw new InvalidOperationException($"gcc failed ({rc}) on {source}:\n{err}");
            var (runRc, output, runErr) = Exec(exe, []);
            if (runRc != 0) throw new InvalidOperationException($"{exe} exited {runRc}: {runErr}");
            return JsonDocument.Parse(output);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>The C source: one printf per entry, values from sizeof, offsetof and the header macros.</summary>
    public static string Program(IReadOnlyList<string> includes, IReadOnlyList<(AbiStruct Struct, string[] Members)> structs,
        IReadOnlyList<string> ioctls, IReadOnlyList<string> constants)
    {
        var c = new StringBuilder();
        c.AppendLine("#include <stddef.h>");
        c.AppendLine("#include <stdio.h>");
        c.AppendLine("#include <fcntl.h>");
        foreach (var include in includes) c.AppendLine($"#include {include}");
        c.AppendLine("int main(void) {");
        c.AppendLine("  printf(\"{\\\"structs\\\":{\");");
        var first = true;
        foreach (var (s, members) in structs)
        {
            c.AppendLine($"  printf(\"{(first ? "" : ",")}\\\"{s.Name}\\\":{{\\\"size\\\":%zu,\\\"fields\\\":{{\", sizeof({s.CType}));");
            var firstField = true;
            foreach (var member in members)
            {
                c.AppendLine($"  printf(\"{(firstField ? "" : ",")}\\\"{member}\\\":%zu\", offsetof({s.CType}, {member}));");
                firstField = false;
            }
            c.AppendLine("  printf(\"}}\");");
            first = false;
        }
        c.AppendLine("  printf(\"}\");");
        Values(c, "ioctls", ioctls);
        Values(c, "constants", constants);
        c.AppendLine("  printf(\"}\\n\");");
        c.AppendLine("  return 0;");
        c.AppendLine("}");
        return c.ToString();
    }

    private static void Values(StringBuilder c, string section, IReadOnlyList<string> names)
    {
        c.AppendLine($"  printf(\",\\\"{section}\\\":{{\");");
        var first = true;
        foreach (var name in names)
        {
            // Through unsigned int: the headers spell bit 31 as (1 << 31), an int.
            c.AppendLine($"  printf(\"{(first ? "" : ",")}\\\"{name}\\\":%u\", (unsigned int)({name}));");
            first = false;
        }
        c.AppendLine("  printf(\"}\");");
    }

    public static (int Rc, string Out, string Err) Exec(string file, IEnumerable<string> args) => ChildRun.Exec(file, args);

    private static string? FindOnPath(string name, string searchPath) =>
        searchPath.Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
}
