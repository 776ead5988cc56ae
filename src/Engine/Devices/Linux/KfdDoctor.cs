using System.Globalization;
using Gpuckpt.Engine.Native;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>
/// Looks at what the kfd backend needs, one check at a time, touching nothing a checkpoint would: the device nodes,
/// the KFD ioctl version, the render nodes and the topology KFD reports, the capabilities of this process, ptrace.
/// </summary>
public static class KfdDoctor
{
    public static DoctorReport Examine(KfdDriverPaths paths, string ptraceScope = "/proc/sys/kernel/yama/ptrace_scope")
    {
        var checks = new List<DoctorCheck>
        {
            Kfd(paths, out var version),
            Version(paths, version),
            Topology(paths),
            RenderNodes(paths),
            Capability(paths),
            Ptrace(paths, ptraceScope),
            Kcmp(),
        };
        var ioctls = Ioctls(paths, version);
        // The CRIU op is the "kfd version" check already; each render-node ioctl is a check of its own.
        checks.AddRange(ioctls.Skip(1).Select(i => new DoctorCheck(i.Name, i.Present != false, $"{i.State} ({i.NeededFor}; {i.Since} has it): {i.Detail}",
            i.Present == false ? $"boot {i.Since} or later, whose amdgpu driver has {i.Name}" : null)));
        return new DoctorReport(checks, checks.All(c => c.Ok), SimulatorUsable: true, ioctls);
    }

    /// <summary>The KFD CRIU op (from the version) and each render-node ioctl, probed on a file of each render node opened here.</summary>
    private static List<KernelIoctl> Ioctls(KfdDriverPaths paths, KfdIoctlGetVersionArgs? version)
    {
        var criu = version is { } v
            ? new KernelIoctl("AMDKFD_IOC_CRIU_OP", "checkpoint and restore", "Linux 5.18 (KFD ioctl 1.8)",
                v.major_version == KfdDriver.CriuMajor && v.minor_version >= KfdDriver.CriuMinor, $"KFD ioctl {v.major_version}.{v.minor_version}")
            : new KernelIoctl("AMDKFD_IOC_CRIU_OP", "checkpoint and restore", "Linux 5.18 (KFD ioctl 1.8)", null, $"{paths.Kfd} gave no version");
        var nodes = Directory.Exists(paths.Dri)
            ? Directory.GetFileSystemEntries(paths.Dri, "renderD*").Order(StringComparer.Ordinal).ToList()
            : [];
        var probes = new List<(string Device, KernelIoctl Ioctl)>();
        foreach (var device in nodes)
        {
            if (!uint.TryParse(Path.GetFileName(device).AsSpan("renderD".Length), NumberStyles.None, CultureInfo.InvariantCulture, out var minor)) continue;
            var fd = Libc.Open(device, Libc.O_RDWR | Libc.O_CLOEXEC);
            if (fd < 0)
            {
                var errno = Libc.LastErrno;
                probes.Add((device, new(RenderIoctlProbe.ListHandles, "checkpoint", RenderIoctlProbe.RenderCriuSince, null, $"{device}: open failed: {Errno.Name(errno)}")));
                continue;
            }
            using var node = new RenderNodeFile((uint)Environment.ProcessId, minor, fd, device);
            probes.AddRange(RenderIoctlProbe.Probe(node, device, createBo: true).Select(i => (device, i)));
        }
        // One line per ioctl: missing on any node is missing; present needs every node to say so.
        var merged = probes.GroupBy(p => p.Ioctl.Name).Select(g =>
        {
            var worst = g.Select(p => p.Ioctl).FirstOrDefault(p => p.Present == false) ?? g.Select(p => p.Ioctl).FirstOrDefault(p => p.Present is null) ?? g.First().Ioctl;
            return worst.Present == true ? worst with { Detail = $"answers on {string.Join(", ", g.Select(p => Path.GetFileName(p.Device)))}" } : worst;
        });
        return [criu, .. merged];
    }

    private static DoctorCheck Kfd(KfdDriverPaths paths, out KfdIoctlGetVersionArgs? version)
    {
        version = null;
        if (!File.Exists(paths.Kfd))
            return new("kfd device", false, $"{paths.Kfd} not found: no AMD GPU driver on this machine",
                "on a machine with an AMD GPU load amdgpu (modprobe amdgpu); in a container pass --device /dev/kfd");
        var fd = Libc.Open(paths.Kfd, Libc.O_RDWR | Libc.O_CLOEXEC);
        if (fd < 0)
            return new("kfd device", false, $"{paths.Kfd}: open failed: {Errno.Name(Libc.LastErrno)}",
                "give the checkpointer read/write access to /dev/kfd (the render group, or root)");
        try
        {
            var args = new KfdIoctlGetVersionArgs();
            var rc = DeviceIoctl.Call(fd, KfdIoctls.GetVersion, ref args);
            if (rc != 0) return new("kfd device", false, $"{paths.Kfd}: AMDKFD_IOC_GET_VERSION failed: {Errno.Name(rc)}", "is it the amdgpu KFD device?");
            version = args;
            return new("kfd device", true, $"{paths.Kfd} opens");
        }
        finally
        {
            Libc.Close(fd); // a probe: nothing to report beyond the answer
        }
    }

    private static DoctorCheck Version(KfdDriverPaths paths, KfdIoctlGetVersionArgs? version)
    {
        const string need = $"1.8 or later: a kernel with KFD's CRIU op as CRIU's amdgpu plugin needs it";
        if (version is not { } v) return new("kfd version", false, $"unknown ({paths.Kfd} gave no version)", need);
        var ok = v.major_version == KfdDriver.CriuMajor && v.minor_version >= KfdDriver.CriuMinor;
        return new("kfd version", ok, $"KFD ioctl {v.major_version}.{v.minor_version}", ok ? null : $"{need} (upgrade the kernel or the amdgpu DKMS driver)");
    }

    private static DoctorCheck Topology(KfdDriverPaths paths)
    {
        try
        {
            var machine = KfdSysfsTopology.ReadMachine(paths.Topology);
            var gpus = string.Join(", ", machine.Gpus.Select(g => $"0x{g.GpuId:x} (renderD{g.DrmRenderMinor})"));
            return new("topology", machine.Gpus.Count > 0,
                $"{machine.Gpus.Count} GPU(s) {gpus}, {machine.Cpus.Count} CPU node(s) in {paths.Topology}".Replace("  ", " "),
                machine.Gpus.Count > 0 ? null : "KFD reports no GPU: check dmesg for amdgpu errors");
        }
        catch (Exception e) when (e is DriverException or IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return new("topology", false, e.Message, "load amdgpu; in a container bind /sys/class/kfd");
        }
    }

    private static DoctorCheck RenderNodes(KfdDriverPaths paths)
    {
        var nodes = Directory.Exists(paths.Dri)
            ? Directory.GetFileSystemEntries(paths.Dri, "renderD*").Select(Path.GetFileName).Order().ToList()
            : [];
        return nodes.Count == 0
            ? new("render nodes", false, $"no renderD* in {paths.Dri}", "in a container pass --device /dev/dri")
            : new("render nodes", true, string.Join(", ", nodes));
    }

    private static DoctorCheck Capability(KfdDriverPaths paths)
    {
        var caps = LinuxCapabilities.Effective(paths.SelfStatus);
        var which = new List<string>();
        if ((caps & (1UL << LinuxCapabilities.CapCheckpointRestore)) != 0) which.Add("CAP_CHECKPOINT_RESTORE");
        if ((caps & (1UL << LinuxCapabilities.CapSysAdmin)) != 0) which.Add("CAP_SYS_ADMIN");
        return which.Count > 0
            ? new("capability", true, $"{string.Join(" and ", which)} (CapEff 0x{caps:x})")
            : new("capability", false, $"neither CAP_CHECKPOINT_RESTORE nor CAP_SYS_ADMIN (CapEff 0x{caps:x}): KFD refuses CRIU ops with EACCES",
                "run as root, or grant it: setcap cap_checkpoint_restore,cap_sys_ptrace+ep on the gpuckpt binary, --cap-add CHECKPOINT_RESTORE in a container");
    }

    private static DoctorCheck Ptrace(KfdDriverPaths paths, string scopeFile)
    {
        var caps = LinuxCapabilities.Effective(paths.SelfStatus);
        var sysPtrace = (caps & (1UL << LinuxCapabilities.CapSysPtrace)) != 0;
        var scope = File.Exists(scopeFile) && int.TryParse(File.ReadAllText(scopeFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : (int?)null;
        var detail = (scope is null ? "no Yama ptrace_scope" : $"ptrace_scope {scope}") + (sysPtrace ? ", CAP_SYS_PTRACE" : "");
        // KFD takes CRIU ops only from the target's ptrace parent: the checkpointer must be able to PTRACE_SEIZE it.
        var ok = scope switch { null or 0 => true, 1 or 2 => sysPtrace, _ => false };
        return new("ptrace", ok, detail + "; KFD accepts CRIU ops only from the target's ptrace parent",
            ok ? null : scope == 3 ? "ptrace_scope 3 forbids attaching: set kernel.yama.ptrace_scope to 1 and run with CAP_SYS_PTRACE"
                : "run with CAP_SYS_PTRACE (root), or sysctl kernel.yama.ptrace_scope=0");
    }

    private static DoctorCheck Kcmp()
    {
        var rc = LinuxSyscalls.SameFile((uint)Environment.ProcessId, 0, 0);
        var errno = rc < 0 ? LinuxSyscalls.LastErrno : 0;
        return errno == Errno.ENOSYS
            ? new("kcmp", false, "the kernel has no kcmp (CONFIG_CHECKPOINT_RESTORE / CONFIG_KCMP off): render files of a process cannot be told apart",
                "a kernel built with CONFIG_CHECKPOINT_RESTORE (as distribution kernels are)")
            : new("kcmp", true, "kcmp(KCMP_FILE) available");
    }
}
