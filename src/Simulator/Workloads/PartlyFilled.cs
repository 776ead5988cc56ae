using Gpuckpt.Engine.Topology;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Simulator.Workloads;

/// <summary>
/// Partly filled buffers, as a job's memory often holds (a KV cache or an activation buffer used in part), written into
/// a running process as its kernels would: every BO it may write gets, in each 64 KiB, a quarter of noise and then
/// zeros. What packing (<c>checkpoint --compress</c>) is measured and specified on.
/// </summary>
public static class PartlyFilled
{
    private const int Window = 64 << 10;

    /// <summary>
    /// Pauses the process to find its BOs (PROCESS_INFO, CHECKPOINT), writes every writable one of a window or more, and
    /// unpauses it once. Returns the bytes written.
    /// </summary>
    public static long Write(SimulatorClient client, GpuTopology topology, uint pid, ulong seed)
    {
        using var kfd = client.OpenKfd(pid);
        var info = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.ProcessInfo };
        Check(kfd.CriuOp(ref info, [], [], []), "PROCESS_INFO");
        long written = 0;
        try
        {
            var devices = new KfdCriuDeviceBucket[info.num_devices];
            var bos = new KfdCriuBoBucket[info.num_bos];
            var dump = info with { op = (uint)KfdCriuOp.Checkpoint };
            Check(kfd.CriuOp(ref dump, devices, bos, new byte[info.priv_data_size]), "CHECKPOINT");
            var random = new Random((int)seed);
            var window = new byte[Window];
            foreach (var bo in bos.Where(b => b.dmabuf_fd != uint.MaxValue))
            {
                try
                {
                    if ((bo.alloc_flags & (uint)KfdAllocFlags.Writable) == 0 || bo.size < Window) continue;
                    var actual = devices.Single(d => d.user_gpu_id == bo.gpu_id).actual_gpu_id;
                    var minor = topology.Gpus.Single(g => g.GpuId == actual).DrmRenderMinor;
                    using var map = client.MapBo(minor, bo.offset, bo.size, writable: true);
                    for (ulong at = 0; at < bo.size; at += Window)
                    {
                        var length = (int)Math.Min(Window, bo.size - at);
                        Array.Clear(window);
                        random.NextBytes(window.AsSpan(0, length / 4));
                        map.Write(at, window.AsSpan(0, length));
                    }
                    written += (long)bo.size;
                }
                finally
                {
                    client.CloseFd((int)bo.dmabuf_fd);
                }
            }
        }
        finally
        {
            var unpause = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.Unpause };
            Check(kfd.CriuOp(ref unpause, [], [], []), "UNPAUSE");
        }
        return written;
    }

    private static void Check(int errno, string op)
    {
        if (errno != 0) throw new InvalidOperationException($"{op} failed with errno {errno}");
    }
}
