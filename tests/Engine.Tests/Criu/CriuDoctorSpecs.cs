using System.Text.Json;
using Gpuckpt.Engine.Devices.Linux;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Criu;

/// <summary>
/// What `gpuckpt doctor` says about CRIU: found or not and how to install it, too old, which of the bridge's hooks a
/// release calls, and criu check's verdict; against stand-in criu executables, and the real one this machine has.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CriuDoctorSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-criu-doctor-");

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>A criu that prints <paramref name="version"/> for --version and answers check with <paramref name="check"/>.</summary>
    private string[] Criu(string version, string check = "echo 'Looks good.'; exit 0")
    {
        var bin = _dir.CreateSubdirectory($"bin-{Guid.NewGuid():N}");
        var path = Path.Combine(bin.FullName, "criu");
        File.WriteAllText(path, $"#!/bin/sh\nif [ \"$1\" = --version ]; then printf 'Version: {version}\\n'; exit 0; fi\n{check}\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return [bin.FullName];
    }

    private string Header(params (string Name, int Number)[] hooks)
    {
        var path = Path.Combine(_dir.FullName, $"criu-plugin-{Guid.NewGuid():N}.h");
        File.WriteAllText(path, "enum cr_plugin_hook {\n" + string.Concat(hooks.Select(h => $"\tCR_PLUGIN_HOOK__{h.Name} = {h.Number},\n")) + "\tCR_PLUGIN_HOOK__MAX\n};\n");
        return path;
    }

    [Fact]
    public void No_criu_is_one_missing_check_that_gives_the_install_command()
    {
        var report = CriuDoctor.Examine(Timeout, [_dir.CreateSubdirectory("empty").FullName]);
        Assert.False(report.Usable);
        var check = Assert.Single(report.Checks);
        Assert.Equal(("criu", false), (check.Name, check.Ok));
        Assert.Contains("no criu in", check.Detail);
        Assert.StartsWith(CriuReport.InstallCommand, check.Fix);
        Assert.Equal(CriuHook.Needed.Select(h => h.Name), report.HooksMissing);
    }

    [Fact]
    public void Debian_12s_criu_317_is_too_old_and_lacks_the_device_hooks_of_40_and_42()
    {
        var report = CriuDoctor.Examine(Timeout, Criu("3.17.1"), Header());
        Assert.False(report.Usable);
        Assert.Equal(new Version(3, 17, 1), report.Version);
        Assert.Equal(["criu", "criu hooks"], report.Missing.Select(c => c.Name));
        Assert.Contains("CRIU 4.2 or later", report.Checks[0].Fix);
        Assert.Equal(["DUMP_EXT_FILE", "RESTORE_EXT_FILE", "UPDATE_VMA_MAP", "RESUME_DEVICES_LATE"], report.HooksCalled);
        Assert.Contains("PAUSE_DEVICES (CRIU 4.0)", report.Checks[1].Detail);
        Assert.Contains("POST_FORKING (CRIU 4.2)", report.Checks[1].Detail);
    }

    [Fact]
    public void Criu_421_calls_every_released_hook_and_names_DUMP_DEVICES_LATE_as_unreleased()
    {
        // The header is not consulted for a release the history knows, whatever it declares.
        var report = CriuDoctor.Examine(Timeout, Criu("4.2.1"), Header(("DUMP_DEVICES_LATE", 14)));
        Assert.True(report.Usable, string.Join("; ", report.Missing.Select(c => c.Detail)));
        Assert.Equal(["DUMP_DEVICES_LATE"], report.HooksMissing);
        Assert.Contains("DUMP_DEVICES_LATE (no release up to 4.2.1", report.Checks.Single(c => c.Name == "criu hooks").Detail);
        Assert.Equal("Looks good.", report.CheckVerdict);
    }

    [Fact]
    public void A_release_newer_than_the_history_is_judged_by_the_hooks_its_header_declares()
    {
        var all = CriuHook.Needed.Select(h => (h.Name, h.Number)).ToArray();
        Assert.Empty(CriuDoctor.Examine(Timeout, Criu("4.3"), Header(all)).HooksMissing);
        // A header whose numbers disagree with ours declares a different hook: not counted.
        var renumbered = all.Select(h => h.Name == "POST_FORKING" ? (h.Name, 13) : h).ToArray();
        var report = CriuDoctor.Examine(Timeout, Criu("4.3"), Header(renumbered));
        Assert.Equal(["POST_FORKING"], report.HooksMissing);
        Assert.False(report.Usable);
    }

    [Fact]
    public void A_failing_criu_check_is_reported_with_criu_s_own_error_line()
    {
        var report = CriuDoctor.Examine(Timeout, Criu("4.2.1", "echo 'Warn  (criu/kerndat.c:1): something' >&2; echo 'Error (criu/cr-check.c:42): seccomp is unsupported' >&2; exit 1"), Header());
        Assert.False(report.CheckOk);
        Assert.Equal(["criu check"], report.Missing.Select(c => c.Name));
        Assert.Equal("Error (criu/cr-check.c:42): seccomp is unsupported", report.CheckVerdict);
    }

    [Fact]
    public void The_installed_criu_is_found_and_its_check_verdict_is_criu_checks_own()
    {
        var report = CriuDoctor.Examine(Timeout);
        Assert.True(report.Path is not null, $"no criu on this machine: run {CriuReport.InstallCommand} as root");
        var (rc, stdout, stderr) = Uapi.CHeaderAbi.Exec(report.Path, ["check"]);
        Assert.Equal(rc == 0, report.CheckOk);
        Assert.Contains(report.CheckVerdict, stdout + stderr);
        Assert.True(report.Version >= new Version(4, 2), $"{report.Path} is CRIU {report.Version}: run {CriuReport.InstallCommand} as root");
    }

    [Fact]
    public async Task Gpuckpt_doctor_reports_this_machines_criu_its_hooks_its_check_and_the_install_command()
    {
        var run = await GpuckptProcess.RunAsync(["doctor", "--json"], timeout: TimeSpan.FromMinutes(2));
        Assert.True(run.ExitCode == 0, run.Stderr);
        var report = JsonDocument.Parse(run.Stdout).RootElement;
        var criu = report.GetProperty("criu");
        var expected = CriuDoctor.Examine(Timeout);
        Assert.Equal(expected.Path, criu.GetProperty("path").GetString());
        Assert.Equal(expected.Version?.ToString(), criu.GetProperty("version").GetString());
        Assert.Equal(expected.HooksCalled, criu.GetProperty("hooks").EnumerateArray().Select(h => h.GetString()));
        Assert.Equal(expected.HooksMissing, criu.GetProperty("missing_hooks").EnumerateArray().Select(h => h.GetString()));
        Assert.Equal(expected.CheckVerdict, criu.GetProperty("check").GetProperty("verdict").GetString());
        Assert.Equal(CriuReport.InstallCommand, criu.GetProperty("install").GetString());
        Assert.Equal(expected.Usable, report.GetProperty("backends").GetProperty("criu").GetProperty("usable").GetBoolean());
        Assert.Equal(["criu", "criu hooks", "criu check", "criu bridge"], report.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("name").GetString()).Where(n => n!.StartsWith("criu", StringComparison.Ordinal)));
    }
}
