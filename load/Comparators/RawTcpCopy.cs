using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Gpuckpt.Load.Comparators;

/// <summary>
/// Every file of a directory through one loopback TCP connection (4 MiB buffer) into another, each fsynced: the bytes
/// are read into memory before the clock starts, as a migration sends a process's bytes from its memory.
/// </summary>
public static class RawTcpCopy
{
    public static async Task<(long Bytes, double Seconds)> Run(string from, string to)
    {
        Directory.CreateDirectory(to);
        var files = Directory.GetFiles(from).Order(StringComparer.Ordinal).Select(f => (Path.GetFileName(f), new FileInfo(f).Length)).ToList();
        var contents = files.Select(f => File.ReadAllBytes(Path.Combine(from, f.Item1))).ToList();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var clock = Stopwatch.StartNew();
        var receive = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            await using var stream = new NetworkStream(socket);
            var buffer = new byte[4 << 20];
            foreach (var (name, length) in files)
            {
                await using var file = new FileStream(Path.Combine(to, name), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None);
                for (long left = length; left > 0;)
                {
                    var n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)));
                    if (n == 0) throw new EndOfStreamException($"{name}: the sender closed with {left} bytes left");
                    await file.WriteAsync(buffer.AsMemory(0, n));
                    left -= n;
                }
                file.Flush(flushToDisk: true);
            }
        });
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
            await using var stream = client.GetStream();
            foreach (var bytes in contents)
                for (var at = 0; at < bytes.Length; at += 4 << 20)
                    await stream.WriteAsync(bytes.AsMemory(at, Math.Min(4 << 20, bytes.Length - at)));
        }
        await receive;
        return (files.Sum(f => f.Item2), clock.Elapsed.TotalSeconds);
    }
}
