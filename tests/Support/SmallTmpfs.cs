using CliWrap.Buffered;

namespace Gpuckpt.Tests.Support;

/// <summary>
/// A real, small tmpfs mounted on a fresh directory (we are root in CI): writing past its size is a real ENOSPC from
/// the kernel, not a simulated one. <see cref="Unavailable"/> says why it cannot be had here (no mount permission).
/// </summary>
public sealed class SmallTmpfs : IDisposable
{
    private SmallTmpfs(string path) => Path = path;

    public string Path { get; }

    public static SmallTmpfs Mount(long bytes)
    {
        var dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"gpuckpt-tmpfs-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        var (code, output) = RunTool("mount", "-t", "tmpfs", "-o", $"size={bytes}", "tmpfs", dir);
        if (code != 0)
        {
            Directory.Delete(dir);
            throw new InvalidOperationException($"mount -t tmpfs on {dir} failed ({code}): {output}");
        }
        return new SmallTmpfs(dir);
    }

    /// <summary>Null when a tmpfs can be mounted here, else the reason (shown as the skip reason).</summary>
    public static string? Unavailable() => Probe.Value;

    private static readonly Lazy<string?> Probe = new(() =>
    {
        try
        {
            using var t = Mount(1 << 20);
            return null;
        }
        catch (Exception e)
        {
            return $"skipped: a small tmpfs cannot be mounted here, so no real ENOSPC ({e.Message.Trim()})";
        }
    });

    public void Dispose()
    {
        RunTool("umount", "-l", Path);
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Still busy: the lazy unmount finishes once the last file is closed; the empty directory stays in /tmp.
        }
    }

    private static (int Code, string Output) RunTool(string tool, params string[] args)
    {
        // Both streams read at once (CliWrap): a tool that fills one pipe while the other is read never blocks.
        var result = CliWrap.Cli.Wrap(tool).WithArguments(args).WithValidation(CliWrap.CommandResultValidation.None)
            .ExecuteBufferedAsync().GetAwaiter().GetResult();
        return (result.ExitCode, result.StandardOutput + result.StandardError);
    }
}
