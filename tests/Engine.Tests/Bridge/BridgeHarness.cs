using System.Diagnostics;
using System.Runtime.CompilerServices;
using Gpuckpt.Engine.Tests.Uapi;
using Gpuckpt.Tests.Support;

namespace Gpuckpt.Engine.Tests.Bridge;

/// <summary>bridge_harness (C, built here with gcc): plays CRIU for gpuckpt_bridge.so and the kernel for its KFD ops.</summary>
internal sealed record HarnessRun(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>What the named hook returned ("hook NAME rc=N"); the first call of it.</summary>
    public int Rc(string hook) =>
        Stdout.Split('\n').Where(l => l.StartsWith($"hook {hook} rc=", StringComparison.Ordinal)).Select(l => int.Parse(l[(l.IndexOf('=') + 1)..], System.Globalization.CultureInfo.InvariantCulture))
            .DefaultIfEmpty(int.MinValue).First();

    public IReadOnlyList<int> Rcs(string hook) =>
        [.. Stdout.Split('\n').Where(l => l.StartsWith($"hook {hook} rc=", StringComparison.Ordinal)).Select(l => int.Parse(l[(l.IndexOf('=') + 1)..], System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>A count the harness printed at the end ("kfd process_info=1 …", "fds leaked=0").</summary>
    public int Count(string name)
    {
        foreach (var word in Stdout.Split([' ', '\n']))
            if (word.StartsWith(name + "=", StringComparison.Ordinal)) return int.Parse(word[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        throw new InvalidOperationException($"the harness printed no {name}: {this}");
    }

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

internal static class BridgeHarness
{
    public const string CriuPluginHeader = "/usr/local/include/criu/criu-plugin.h";
    private static readonly Lazy<string> Binary = new(() => Build());

    /// <summary>gpuckpt_bridge.so as the build put it beside gpuckpt.</summary>
    public static string BridgeSo
    {
        get
        {
            var so = Path.Combine(AppContext.BaseDirectory, "criu", "gpuckpt_bridge.so");
            return File.Exists(so) ? so : throw new InvalidOperationException($"{so} was not built: CRIU's plugin header ({CriuPluginHeader}) is missing; .ci/install-criu installs it");
        }
    }

    /// <summary>The bridge's fault-injecting test variant (GPUCKPT_BRIDGE_FAULT), which the test hooks project builds.</summary>
    public static string FaultBridgeSo
    {
        get
        {
            var so = Path.Combine(AppContext.BaseDirectory, "criu-faults", "gpuckpt_bridge.so");
            return File.Exists(so) ? so : throw new InvalidOperationException($"{so} was not built: CRIU's plugin header ({CriuPluginHeader}) is missing; .ci/install-criu installs it");
        }
    }

    /// <summary>Runs the harness (optionally through a wrapper such as setpriv), with $GPUCKPT_BRIDGE_SOCKET set or removed.</summary>
    public static HarnessRun Run(string bridge, string kfd, string scenario, int bos, string? socket, IReadOnlyList<string>? wrapper = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var exe = Binary.Value;
        var file = wrapper is { Count: > 0 } ? wrapper[0] : exe;
        var args = (wrapper is { Count: > 0 } ? [.. wrapper.Skip(1), exe] : new List<string>()).Concat([bridge, kfd, scenario, bos.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        // The socket goes to the harness alone: specs of other classes run meanwhile in this process.
        var env = new Dictionary<string, string?> { ["GPUCKPT_BRIDGE_SOCKET"] = socket };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) env[name] = value;
        var (exitCode, stdout, stderr) = ChildRun.Exec(file, args, env);
        return new HarnessRun(exitCode, stdout, stderr);
    }

    /// <summary>chmod(2), checked.</summary>
    public static void Chmod(string path, uint mode)
    {
        if (Native.Libc.Chmod(path, mode) != 0) throw new IOException($"chmod {path} failed: errno {Native.Libc.LastErrno}");
    }

    private static string Build([CallerFilePath] string here = "")
    {
        if (!File.Exists(CriuPluginHeader)) throw new InvalidOperationException($"{CriuPluginHeader} is missing: .ci/install-criu installs CRIU and its plugin header");
        var source = Path.Combine(Path.GetDirectoryName(here)!, "bridge_harness.c");
        var dir = Directory.CreateTempSubdirectory("gpuckpt-bridge-harness-");
        // linux/kfd_ioctl.h includes <drm/drm.h>, which libdrm installs as libdrm/drm.h.
        Directory.CreateDirectory(Path.Combine(dir.FullName, "include"));
        File.CreateSymbolicLink(Path.Combine(dir.FullName, "include", "drm"), CHeaderAbi.LibdrmDir);
        var exe = Path.Combine(dir.FullName, "bridge_harness");
        List<string> flags = ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O1", "-rdynamic", "-isystem", Path.GetDirectoryName(CriuPluginHeader)!, "-isystem", Path.Combine(dir.FullName, "include")];
        if (File.ReadAllText(CriuPluginHeader).Contains("retry_needed", StringComparison.Ordinal)) flags.Add("-DBRIDGE_RESTORE_EXT_FILE_RETRY");
        var (rc, _, err) = CHeaderAbi.Exec("gcc", [.. flags, "-o", exe, source, "-ldl"]);
        if (rc != 0) throw new InvalidOperationException($"gcc failed ({rc}) on {source}:\n{err}");
        // Readable and runnable by any user: one spec runs it as nobody.
        Chmod(dir.FullName, 0x1ed);
        Chmod(exe, 0x1ed);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => dir.Delete(recursive: true);
        return exe;
    }
}
