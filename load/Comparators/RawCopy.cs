using System.Diagnostics;

namespace Gpuckpt.Load.Comparators;

/// <summary>Measures <see cref="RawCopyResult"/> for a number of bytes, in a directory of its own that it removes.</summary>
public static class RawCopy
{
    public static async Task<RawCopyResult> Measure(long bytes, string workDir, CancellationToken token)
    {
        bytes = Rounded(bytes);
        var dir = Directory.CreateDirectory(Path.Combine(workDir, $"raw-{Guid.NewGuid():N}")).FullName;
        var shm = Directory.CreateDirectory(Path.Combine("/dev/shm", $"gpuckpt-load-raw-{Guid.NewGuid():N}")).FullName;
        try
        {
            var source = Path.Combine(shm, "source");
            Fill(source, bytes);
            var file = Path.Combine(dir, "copy");
            var back = Path.Combine(shm, "back");
            string[] count = ["bs=4M", "iflag=count_bytes", $"count={bytes}"];
            var writeFsync = await Dd(token, [$"if={source}", $"of={file}", .. count, "conv=fsync"]);
            File.Delete(file);
            var writeDirect = await Dd(token, [$"if={source}", $"of={file}", .. count, "oflag=direct", "conv=fsync"]);
            var readBuffered = await Dd(token, [$"if={file}", $"of={back}", "bs=4M"]);
            File.Delete(back);
            var readDirect = await Dd(token, [$"if={file}", $"of={back}", "bs=4M", "iflag=direct"]);
            var tcpFrom = Directory.CreateDirectory(Path.Combine(dir, "tcp-from")).FullName;
            File.Move(file, Path.Combine(tcpFrom, "copy"));
            var (_, transfer) = await RawTcpCopy.Run(tcpFrom, Path.Combine(dir, "tcp-to"));
            return new RawCopyResult(bytes,
                Math.Min(writeFsync, writeDirect), writeFsync <= writeDirect ? "dd conv=fsync" : "dd oflag=direct conv=fsync",
                Math.Min(readBuffered, readDirect), readBuffered <= readDirect ? "dd (page cache)" : "dd iflag=direct",
                transfer);
        }
        finally
        {
            Directory.Delete(dir, true);
            Directory.Delete(shm, true);
        }
    }

    /// <summary>dd with O_DIRECT moves whole 4 KiB blocks; the few bytes this adds do not change a rate.</summary>
    public static long Rounded(long bytes) => Math.Max(4096, (bytes + 4095) / 4096 * 4096);

    private static async Task<double> Dd(CancellationToken token, string[] args)
    {
        var info = new ProcessStartInfo("dd") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.ArgumentList.Add("status=none");
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException("dd did not start");
        var errors = process.StandardError.ReadToEndAsync(token);
        await process.WaitForExitAsync(token);
        var seconds = clock.Elapsed.TotalSeconds;
        if (process.ExitCode != 0) throw new IOException($"dd {string.Join(' ', args)} failed ({process.ExitCode}): {(await errors).Trim()}");
        return seconds;
    }

    private static void Fill(string path, long bytes)
    {
        var buffer = new byte[4 << 20];
        var random = new Random(1);
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1);
        for (long done = 0; done < bytes; done += buffer.Length)
        {
            random.NextBytes(buffer);
            file.Write(buffer, 0, (int)Math.Min(buffer.Length, bytes - done));
        }
    }
}
