using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Tests.Uapi;

/// <summary>
/// Compiles a C program against the installed kernel headers (plus the proposals they lack) that prints, for every
/// name in <see cref="AbiCatalog"/>, what sizeof/offsetof and the ioctl macros say: the JSON `gpuckpt abi --json` prints.
/// </summary>
internal static class CHeaderAbi
{
    public const string KfdHeader = "/usr/include/linux/kfd_ioctl.h";
    public const string LibdrmDir = "/usr/include/libdrm";

    public static string ProposalsHeader([CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "amdgpu_criu_proposals.h");

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
        var proposals = ProposalsHeader();
        if (!File.Exists(proposals)) throw new InvalidOperationException($"{proposals} missing from the test sources");

        var dir = Directory.CreateTempSubdirectory("gpuckpt-abi-");
        try
        {
            // kfd_ioctl.h includes <drm/drm.h>; libdrm installs it as libdrm/drm.h.
            File.CreateSymbolicLink(Path.Combine(dir.FullName, "drm"), LibdrmDir);
            File.Copy(proposals, Path.Combine(dir.FullName, "amdgpu_criu_proposals.h"));
            var source = Path.Combine(dir.FullName, "abi.c");
            File.WriteAllText(source, Program());
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

    /// <summary>The C source: one printf per catalog entry, values from sizeof, offsetof and the header macros.</summary>
    public static string Program()
    {
        var c = new StringBuilder();
        c.AppendLine("#include <stddef.h>");
        c.AppendLine("#include <stdio.h>");
        c.AppendLine("#include <fcntl.h>");
        c.AppendLine("#include <linux/kfd_ioctl.h>");
        c.AppendLine("#include <linux/kfd_sysfs.h>");
        c.AppendLine("#include <drm/drm.h>");
        c.AppendLine("#include <amdgpu_drm.h>");
        c.AppendLine("#include \"amdgpu_criu_proposals.h\"");
        c.AppendLine("int main(void) {");
        c.AppendLine("  printf(\"{\\\"structs\\\":{\");");
        var first = true;
        foreach (var s in AbiCatalog.Structs)
        {
            c.AppendLine($"  printf(\"{(first ? "" : ",")}\\\"{s.Name}\\\":{{\\\"size\\\":%zu,\\\"fields\\\":{{\", sizeof({s.CType}));");
            var firstField = true;
            foreach (var f in s.Fields)
            {
                c.AppendLine($"  printf(\"{(firstField ? "" : ",")}\\\"{f.CName}\\\":%zu\", offsetof({s.CType}, {f.CName}));");
                firstField = false;
            }
            c.AppendLine("  printf(\"}}\");");
            first = false;
        }
        c.AppendLine("  printf(\"}\");");
        Values(c, "ioctls", AbiCatalog.Ioctls);
        Values(c, "constants", AbiCatalog.Constants);
        c.AppendLine("  printf(\"}\\n\");");
        c.AppendLine("  return 0;");
        c.AppendLine("}");
        return c.ToString();
    }

    private static void Values(StringBuilder c, string section, IReadOnlyList<AbiValue> values)
    {
        c.AppendLine($"  printf(\",\\\"{section}\\\":{{\");");
        var first = true;
        foreach (var v in values)
        {
            // Through unsigned int: the headers spell bit 31 as (1 << 31), an int.
            c.AppendLine($"  printf(\"{(first ? "" : ",")}\\\"{v.Name}\\\":%u\", (unsigned int)({v.Name}));");
            first = false;
        }
        c.AppendLine("  printf(\"}\");");
    }

    public static (int Rc, string Out, string Err) Exec(string file, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish in 60 s");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static string? FindOnPath(string name, string searchPath) =>
        searchPath.Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
}
