using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>
/// Looks at the CRIU whole-process checkpoints run through: the binary, its version, the bridge's hooks that version
/// calls (by criu-plugin.h's history, or the installed header for a release newer than that history), and
/// <c>criu check</c>'s verdict on this kernel.
/// </summary>
public static partial class CriuDoctor
{
    /// <summary>Where CRIU is looked for beyond $PATH: sbin directories are often outside a user's $PATH.</summary>
    public static readonly IReadOnlyList<string> SbinDirs = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

    /// <summary>Where <c>.ci/install-criu</c> puts the plugin header of the CRIU it builds.</summary>
    public const string InstalledHeader = "/usr/local/include/criu/criu-plugin.h";

    /// <summary>$PATH's directories, then <see cref="SbinDirs"/>.</summary>
    public static IReadOnlyList<string> SearchDirs() =>
        [.. (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries), .. SbinDirs];

    public static CriuReport Examine(TimeSpan checkTimeout, IReadOnlyList<string>? searchDirs = null, string header = InstalledHeader)
    {
        var dirs = searchDirs ?? SearchDirs();
        var path = Find(dirs);
        var fix = $"{CriuReport.InstallCommand} (from a gpuckpt source tree, as root: builds CRIU 4.2 from Debian unstable's source package)";
        if (path is null)
        {
            var none = new DoctorCheck("criu", false, "no criu in " + string.Join(", ", dirs.Distinct()), fix);
            return new CriuReport(null, null, [], CriuHook.Needed.Select(h => h.Name).ToList(), false, "not run (no criu)", [none]);
        }

        var (versionRc, versionOut) = Exec(path, ["--version"], checkTimeout);
        var version = versionRc == 0 ? ParseVersion(versionOut) : null;
        var checks = new List<DoctorCheck>();
        if (version is null)
        {
            checks.Add(new("criu", false, $"{path}: `criu --version` gave no version ({FirstLine(versionOut)})", fix));
            return new CriuReport(path, null, [], CriuHook.Needed.Select(h => h.Name).ToList(), false, "not run (unknown version)", checks);
        }
        var recent = version >= new Version(4, 2);
        checks.Add(new("criu", recent, $"{path}, version {version}",
            recent ? null : $"CRIU 4.2 or later is needed (POST_FORKING; Debian 12's 3.17 also fails on current kernels): {fix}"));

        var called = HooksCalled(version, header);
        var hooks = CriuHook.Needed.Where(h => called.Contains(h.Name)).Select(h => h.Name).ToList();
        var missing = CriuHook.Needed.Where(h => !called.Contains(h.Name)).ToList();
        // A hook no release has yet cannot be asked of a release: it is reported, and only released hooks decide.
        var released = missing.Where(h => h.Since is not null).ToList();
        var detail = $"calls {string.Join(", ", hooks)}";
        if (missing.Count > 0)
            detail += "; not " + string.Join(", ", missing.Select(h => h.Since is { } s ? $"{h.Name} (CRIU {s})" : $"{h.Name} (no release up to {CriuHook.NewestKnown}, CRIU's development branch only)"));
        checks.Add(new("criu hooks", released.Count == 0, detail, released.Count == 0 ? null : fix));

        var (checkRc, checkOut) = Exec(path, ["check"], checkTimeout);
        var verdict = checkRc == 0 && checkOut.Contains("Looks good", StringComparison.Ordinal)
            ? "Looks good."
            : LastError(checkOut) ?? $"exit {checkRc}";
        var checkOk = checkRc == 0;
        checks.Add(new("criu check", checkOk, $"criu check: {verdict}",
            checkOk ? null : "run as root (criu needs CAP_SYS_ADMIN); on a kernel without CONFIG_CHECKPOINT_RESTORE CRIU cannot work"));
        return new CriuReport(path, version, hooks, missing.Select(h => h.Name).ToList(), checkOk, verdict, checks);
    }

    /// <summary>The first executable criu in <paramref name="dirs"/>.</summary>
    public static string? Find(IReadOnlyList<string> dirs) =>
        dirs.Select(d => System.IO.Path.Combine(d, "criu"))
            .FirstOrDefault(p => File.Exists(p) && !OperatingSystem.IsWindows() && (File.GetUnixFileMode(p) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0);

    /// <summary>"Version: 4.2.1" (or "Version: 4.2") from <c>criu --version</c>.</summary>
    public static Version? ParseVersion(string output) =>
        VersionLine().Match(output) is { Success: true } m ? Version.Parse(m.Groups[1].Value) : null;

    /// <summary>
    /// The bridge's hooks CRIU <paramref name="version"/> calls: by the release history up to
    /// <see cref="CriuHook.NewestKnown"/>; for a newer release, the hooks its installed criu-plugin.h declares.
    /// </summary>
    public static IReadOnlySet<string> HooksCalled(Version version, string header)
    {
        if (Normal(version) > CriuHook.NewestKnown && File.Exists(header))
        {
            var declared = HookDeclaration().Matches(File.ReadAllText(header)).Select(m => (m.Groups[1].Value, int.Parse(m.Groups[2].Value))).ToHashSet();
            return CriuHook.Needed.Where(h => declared.Contains((h.Name, h.Number))).Select(h => h.Name).ToHashSet();
        }
        return CriuHook.Needed.Where(h => h.CalledBy(version)).Select(h => h.Name).ToHashSet();
    }

    private static Version Normal(Version v) => new(v.Major, v.Minor, Math.Max(v.Build, 0));

    private static (int Rc, string Output) Exec(string file, IReadOnlyList<string> args, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                return (-1, $"{file} {string.Join(' ', args)} did not finish in {timeout.TotalSeconds:0} s");
            }
            return (process.ExitCode, stdout.Result + stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, $"{file}: {e.Message}");
        }
    }

    private static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "no output";

    private static string? LastError(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith("Error", StringComparison.Ordinal) || !l.StartsWith("Warn", StringComparison.Ordinal))?.Trim();

    [GeneratedRegex(@"^Version:\s*(\d+\.\d+(?:\.\d+)?)", RegexOptions.Multiline)]
    private static partial Regex VersionLine();

    [GeneratedRegex(@"CR_PLUGIN_HOOK__([A-Z_]+)\s*=\s*(\d+)")]
    private static partial Regex HookDeclaration();
}
