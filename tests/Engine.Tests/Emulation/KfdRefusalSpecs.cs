using System.Text.Json;
using Gpuckpt.Emulator;
using Gpuckpt.Engine.Devices.Linux;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Engine.Uapi;
using Xunit;

namespace Gpuckpt.Engine.Tests.Emulation;

/// <summary>
/// What the kfd backend refuses before it touches a process: one line on stderr, a non-zero exit, no image, no job,
/// nothing paused. And what <c>gpuckpt doctor</c> reports about the same machines.
/// </summary>
public sealed class KfdRefusalSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-refusal-");
    private readonly TestSimulator _sim = new(gpus: 2, idSeed: 61);

    public void Dispose()
    {
        _sim.Dispose();
        _dir.Delete(recursive: true);
    }

    private string Images => Path.Combine(_dir.FullName, "image");
    private string State => Path.Combine(_dir.FullName, "state");

    /// <summary>Runs checkpoint --driver kfd against a simulated tiny process; returns the run and that process.</summary>
    private (EmulatedRun Run, uint SimPid) Checkpoint(EmulatedKernelOptions options, string target = "@tiny")
    {
        var pid = _sim.Client.Spawn(WorkloadRequest.Named("tiny", 71));
        using var kernel = new EmulatedKernel(_sim.Server, options with { Targets = options.WithoutKfd ? [] : [("tiny", pid)] });
        var run = kernel.Run(KfdEmulationSpecs.Gpuckpt("checkpoint", "--driver", "kfd", "--pid", target, "--images", Images, "--state-dir", State), Timeout);
        return (run, pid);
    }

    /// <summary>One line, the given start, a failing exit, and nothing left behind or paused.</summary>
    private void AssertRefused(EmulatedRun run, uint simPid, string line)
    {
        Assert.True(run.ExitCode != 0, $"exit {run.ExitCode}, stdout {run.Stdout}");
        var lines = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"not one line: {run.Stderr}");
        Assert.StartsWith(line, lines[0]);
        Assert.Equal("", run.Stdout);
        Assert.False(Directory.Exists(Images), "an image directory was created");
        var state = _sim.Client.State(simPid);
        Assert.False(state.Paused);
        Assert.Equal(0, state.Counters.ProcessInfo);
        // Refused before the engine started: no journal, so no job, was ever opened.
        Assert.False(Directory.Exists(State) && Directory.EnumerateFileSystemEntries(State).Any(), $"{State} holds a journal");
    }

    [Fact]
    public void Without_dev_kfd_checkpoint_says_there_is_no_AMD_GPU()
    {
        var (run, pid) = Checkpoint(new EmulatedKernelOptions { WithoutKfd = true }, target: "1");
        AssertRefused(run, pid, "gpuckpt: open on /dev/kfd failed: ENOENT: no AMD GPU: /dev/kfd not found");
    }

    [Fact]
    public void An_old_KFD_is_refused_naming_its_version_and_the_one_needed()
    {
        var (run, pid) = Checkpoint(new EmulatedKernelOptions { KfdMinorVersion = 7 });
        AssertRefused(run, pid, "gpuckpt: AMDKFD_IOC_GET_VERSION on /dev/kfd failed: EOPNOTSUPP: KFD ioctl version 1.7: checkpointing needs 1.8 or later");
    }

    [Fact]
    public void Without_CAP_CHECKPOINT_RESTORE_or_CAP_SYS_ADMIN_checkpoint_is_refused()
    {
        var (run, pid) = Checkpoint(new EmulatedKernelOptions { DropCapabilities = true });
        AssertRefused(run, pid, "gpuckpt: open on /dev/kfd failed: EPERM: the KFD CRIU ops need CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN (effective capabilities 0x");
    }

    [Fact]
    public void A_target_that_does_not_exist_is_refused_as_ESRCH()
    {
        var (run, pid) = Checkpoint(new EmulatedKernelOptions(), target: "2147480000");
        AssertRefused(run, pid, "gpuckpt: open on pid 2147480000 failed: ESRCH: no such process");
    }

    [Fact]
    public void A_target_without_dev_kfd_open_is_refused_naming_it()
    {
        // A process of its own (not this test's, which hosts the emulated kernel: a checkpointer that froze it would
        // freeze the kernel it is waiting on).
        using var plain = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("sleep", "600") { RedirectStandardInput = true })!;
        try
        {
            var (run, pid) = Checkpoint(new EmulatedKernelOptions(), target: $"{plain.Id}");
            AssertRefused(run, pid, $"gpuckpt: open on /dev/kfd failed: ESRCH: process {plain.Id} has no /dev/kfd open");
            Assert.False(plain.HasExited, "the refused target did not survive");
        }
        finally
        {
            plain.Kill();
            plain.WaitForExit();
        }
    }

    [Fact]
    public void Restore_with_the_kfd_driver_is_refused_up_front_with_the_reason()
    {
        // Inside a kernel that has every device: the refusal is about where RESTORE must run, not about this machine.
        using var kernel = new EmulatedKernel(_sim.Server, new EmulatedKernelOptions());
        var run = kernel.Run(KfdEmulationSpecs.Gpuckpt("restore", "--driver", "kfd", "--images", Images, "--state-dir", State), Timeout);

        Assert.Equal(2, run.ExitCode);
        Assert.Equal("", run.Stdout);
        Assert.Equal($"gpuckpt: restore --driver kfd is refused: {KfdDriver.RestoreRefusal}\n", run.Stderr);
        Assert.Empty(run.Requests);
    }

    [Fact]
    public void Doctor_reports_what_a_machine_without_the_driver_lacks_and_how_to_get_it()
    {
        using var kernel = new EmulatedKernel(_sim.Server, new EmulatedKernelOptions { WithoutKfd = true });
        var run = kernel.Run(KfdEmulationSpecs.Gpuckpt("doctor", "--json"), Timeout);

        Assert.True(run.ExitCode == 0, run.Stderr);
        var report = JsonDocument.Parse(run.Stdout).RootElement;
        Assert.False(report.GetProperty("backends").GetProperty("kfd").GetProperty("usable").GetBoolean());
        Assert.True(report.GetProperty("backends").GetProperty("sim").GetProperty("usable").GetBoolean());
        var checks = Checks(report);
        Assert.False(checks["kfd device"].Ok);
        Assert.Contains("modprobe amdgpu", checks["kfd device"].Fix);
        Assert.False(checks["kfd version"].Ok);
        Assert.True(checks["topology"].Ok, checks["topology"].Detail);
        Assert.True(checks["capability"].Ok, checks["capability"].Detail);
    }

    [Fact]
    public void Doctor_inside_the_emulated_kernel_finds_every_part_the_kfd_backend_needs()
    {
        using var kernel = new EmulatedKernel(_sim.Server, new EmulatedKernelOptions());
        var run = kernel.Run(KfdEmulationSpecs.Gpuckpt("doctor", "--json"), Timeout);

        Assert.True(run.ExitCode == 0, run.Stderr);
        var report = JsonDocument.Parse(run.Stdout).RootElement;
        var checks = Checks(report);
        Assert.True(report.GetProperty("backends").GetProperty("kfd").GetProperty("usable").GetBoolean(), run.Stdout);
        Assert.Equal("KFD ioctl 1.14", checks["kfd version"].Detail);
        var gpus = _sim.Server.Topology.Gpus;
        Assert.StartsWith($"2 GPU(s) 0x{gpus[0].GpuId:x} (renderD{gpus[0].DrmRenderMinor}), 0x{gpus[1].GpuId:x} (renderD{gpus[1].DrmRenderMinor}), 1 CPU node(s)", checks["topology"].Detail);
        Assert.Equal(string.Join(", ", gpus.Select(g => $"renderD{g.DrmRenderMinor}").Order()), checks["render nodes"].Detail);
        var nodes = string.Join(", ", gpus.Select(g => $"renderD{g.DrmRenderMinor}").Order(StringComparer.Ordinal));
        Assert.All(report.GetProperty("ioctls").EnumerateArray(), i => Assert.Equal("present", i.GetProperty("state").GetString()));
        Assert.Equal($"present (checkpoint; Linux 6.18 has it): answers on {nodes}", checks[RenderIoctlProbe.MappingInfo].Detail);
    }

    [Fact]
    public void Doctor_names_an_old_KFD_and_a_missing_capability_with_their_fixes()
    {
        using var kernel = new EmulatedKernel(_sim.Server, new EmulatedKernelOptions { KfdMinorVersion = 5, DropCapabilities = true });
        var run = kernel.Run(KfdEmulationSpecs.Gpuckpt("doctor"), Timeout);

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("MISSING  kfd version   KFD ioctl 1.5", run.Stdout);
        Assert.Contains("MISSING  capability    neither CAP_CHECKPOINT_RESTORE nor CAP_SYS_ADMIN", run.Stdout);
        Assert.Contains("fix: run as root, or grant it", run.Stdout);
        Assert.Contains("kfd backend: not usable here (kfd version, capability missing)", run.Stdout);
    }

    [Theory]
    [InlineData("DRM_IOCTL_GEM_CHANGE_HANDLE", "restore")]
    [InlineData("DRM_IOCTL_AMDGPU_GEM_LIST_HANDLES", "checkpoint")]
    public void A_kernel_without_a_render_ioctl_the_job_needs_refuses_the_checkpoint_before_the_pause_naming_it(string ioctl, string neededFor)
    {
        var request = ioctl == RenderIoctlProbe.ChangeHandle ? DrmIoctls.GemChangeHandle : DrmIoctls.AmdgpuGemListHandles;
        var (run, pid) = Checkpoint(new EmulatedKernelOptions { AbsentIoctls = [request] });

        Assert.True(run.ExitCode == 1, $"exit {run.ExitCode}: {run.Stderr}");
        var lines = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"not one line: {run.Stderr}");
        Assert.Contains($"{ioctl} on /dev/dri/renderD", lines[0]);
        Assert.Contains($"{neededFor} needs {ioctl}, which Linux 6.18 has; nothing was paused", lines[0]);
        var state = _sim.Client.State(pid);
        Assert.False(state.Paused);
        Assert.Equal((0, 0, 0), (state.Counters.ProcessInfo, state.Counters.Unpause, state.Counters.Evictions));
        Assert.DoesNotContain(KfdIoctls.CriuOp, run.Requests.Keys);
    }

    [Fact]
    public void Doctor_lists_each_ioctl_the_kfd_backend_needs_and_names_a_missing_one_with_the_kernel_that_has_it()
    {
        using var kernel = new EmulatedKernel(_sim.Server, new EmulatedKernelOptions { AbsentIoctls = [DrmIoctls.GemChangeHandle] });
        var runs = kernel.RunAll([KfdEmulationSpecs.Gpuckpt("doctor", "--json"), KfdEmulationSpecs.Gpuckpt("doctor")], Timeout);

        Assert.True(runs[0].ExitCode == 0, runs[0].Stderr);
        var report = JsonDocument.Parse(runs[0].Stdout).RootElement;
        var ioctls = report.GetProperty("ioctls").EnumerateArray().ToDictionary(i => i.GetProperty("name").GetString()!, i => (
            State: i.GetProperty("state").GetString(), Since: i.GetProperty("since").GetString()));
        Assert.Equal(("present", "Linux 5.18 (KFD ioctl 1.8)"), ioctls["AMDKFD_IOC_CRIU_OP"]);
        Assert.Equal(("present", "Linux 6.18"), ioctls[RenderIoctlProbe.ListHandles]);
        Assert.Equal(("present", "Linux 6.18"), ioctls[RenderIoctlProbe.MappingInfo]);
        Assert.Equal(("missing", "Linux 6.18"), ioctls[RenderIoctlProbe.ChangeHandle]);
        Assert.False(report.GetProperty("backends").GetProperty("kfd").GetProperty("usable").GetBoolean());

        Assert.True(runs[1].ExitCode == 0, runs[1].Stderr);
        Assert.Contains($"MISSING  {RenderIoctlProbe.ChangeHandle} missing (restore; Linux 6.18 has it)", runs[1].Stdout);
        Assert.Contains($"fix: boot Linux 6.18 or later, whose amdgpu driver has {RenderIoctlProbe.ChangeHandle}", runs[1].Stdout);
    }

    private static Dictionary<string, (bool Ok, string Detail, string Fix)> Checks(JsonElement report) =>
        report.GetProperty("checks").EnumerateArray().ToDictionary(
            c => c.GetProperty("name").GetString()!,
            c => (c.GetProperty("ok").GetBoolean(), c.GetProperty("detail").GetString()!, c.GetProperty("fix").GetString() ?? ""));
}
