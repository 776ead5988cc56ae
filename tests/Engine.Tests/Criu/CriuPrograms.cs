using System.Runtime.CompilerServices;
using Gpuckpt.Emulator;
using Gpuckpt.Engine.Tests.Uapi;

namespace Gpuckpt.Engine.Tests.Criu;

/// <summary>The C programs of the CRIU specs (gpuapp, built with gcc once per test run; taskhost, built with the emulator), and where criu is.</summary>
internal static class CriuPrograms
{
    private static readonly Lazy<string> Dir = new(() => Build());

    public static string GpuApp => Path.Combine(Dir.Value, "gpuapp");
    public static string TaskHost => EmulatorPrograms.TaskHost;

    /// <summary>The criu the specs run: $PATH, then the sbin directories (.ci/install-criu puts it in /usr/local/sbin).</summary>
    public static string Criu =>
        Gpuckpt.Engine.Devices.Linux.CriuDoctor.Find(Gpuckpt.Engine.Devices.Linux.CriuDoctor.SearchDirs())
        ?? throw new InvalidOperationException($"no criu on this machine: run {Gpuckpt.Engine.Devices.Linux.CriuReport.InstallCommand} as root");

    /// <summary>CRIU's image .proto files, installed beside it by .ci/install-criu.</summary>
    public const string ProtoDir = "/usr/local/share/criu/images";

    private static string Build([CallerFilePath] string here = "")
    {
        var source = Path.GetDirectoryName(here)!;
        var dir = Directory.CreateTempSubdirectory("gpuckpt-criu-bin-");
        // kfd_ioctl.h includes <drm/drm.h>; libdrm installs it as libdrm/drm.h.
        File.CreateSymbolicLink(Path.Combine(dir.FullName, "drm"), CHeaderAbi.LibdrmDir);
        foreach (var program in new[] { "gpuapp" })
        {
            var (rc, _, err) = CHeaderAbi.Exec("gcc", ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2", "-I", dir.FullName, "-I", CHeaderAbi.LibdrmDir,
                "-o", Path.Combine(dir.FullName, program), Path.Combine(source, program + ".c")]);
            if (rc != 0) throw new InvalidOperationException($"gcc failed ({rc}) on {program}.c:\n{err}");
        }
        AppDomain.CurrentDomain.ProcessExit += (_, _) => dir.Delete(recursive: true);
        return dir.FullName;
    }
}
