using System.Diagnostics;

namespace Gpuckpt.Engine.Bridge;

/// <summary>
/// The CRIU a whole-process checkpoint runs: found as <c>$GPUCKPT_CRIU</c>, on PATH, or in /usr/local/sbin and
/// /usr/sbin; 4.2 or later (its PAUSE_DEVICES, CHECKPOINT_DEVICES and POST_FORKING hooks, and a vdso handling that
/// works on current kernels), and the bridge built beside gpuckpt.
/// </summary>
public sealed record CriuInstall(string Path, Version Version, string BridgeDir)
{
    public static readonly Version Minimum = new(4, 2);
    public static readonly string InstallHint = $"{Devices.Linux.CriuReport.InstallCommand} builds CRIU 4.2 from Debian's source package and installs it";

    private static string? _registeredBridgeDir;

    /// <summary>The bridge's folder beside the gpuckpt binary (CRIU's --lib loads every .so of it), or the one a test build registered.</summary>
    public static string DefaultBridgeDir => _registeredBridgeDir ?? System.IO.Path.Combine(AppContext.BaseDirectory, "criu");

    /// <summary>Only Gpuckpt.TestHooks.dll calls this: it points CRIU at the bridge's fault-injecting test variant.</summary>
    public static void RegisterBridgeDir(string dir) => _registeredBridgeDir = dir;

    public const string BridgeFile = "gpuckpt_bridge.so";

    /// <summary>The installed CRIU and bridge, or a one-line refusal that says what to do.</summary>
    public static CriuInstall Require(string? bridgeDir = null)
    {
        var path = Find() ?? throw new InvalidOperationException($"CRIU is not installed: whole-process checkpoints need criu {Minimum} or later ({InstallHint})");
        var version = VersionOf(path);
        if (version < Minimum)
            throw new InvalidOperationException($"{path} is CRIU {version}, too old: whole-process checkpoints need {Minimum} or later ({InstallHint})");
        var dir = bridgeDir ?? DefaultBridgeDir;
        if (!File.Exists(System.IO.Path.Combine(dir, BridgeFile)))
            throw new InvalidOperationException($"the CRIU bridge ({BridgeFile}) is not built in {dir}: install CRIU's plugin header ({InstallHint}) and rebuild gpuckpt");
        return new CriuInstall(path, version, dir);
    }

    /// <summary>Whether the bridge was built beside gpuckpt, as doctor reports it.</summary>
    public static Devices.Linux.DoctorCheck BridgeCheck(string? bridgeDir = null)
    {
        var so = System.IO.Path.Combine(bridgeDir ?? DefaultBridgeDir, BridgeFile);
        return File.Exists(so)
            ? new("criu bridge", true, so)
            : new("criu bridge", false, $"{so} not built: CRIU's plugin header was missing when gpuckpt was built",
                $"{InstallHint}; then rebuild gpuckpt (checkpoint --criu and restore --criu need the bridge)");
    }

    /// <summary>$GPUCKPT_CRIU when set, else the first criu doctor finds ($PATH, then the sbin directories).</summary>
    public static string? Find() =>
        Environment.GetEnvironmentVariable("GPUCKPT_CRIU") is { Length: > 0 } set
            ? (File.Exists(set) ? set : null)
            : Devices.Linux.CriuDoctor.Find(Devices.Linux.CriuDoctor.SearchDirs());

    /// <summary>What <c>criu --version</c> says ("Version: 4.2.1").</summary>
    public static Version VersionOf(string path)
    {
        var info = new ProcessStartInfo(path, "--version") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{path} could not be started");
        var output = process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return Devices.Linux.CriuDoctor.ParseVersion(output) ?? throw new InvalidOperationException($"{path} --version said no version ({output.Trim()}): is it CRIU?");
    }
}
