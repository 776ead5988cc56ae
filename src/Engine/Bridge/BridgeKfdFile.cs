using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Bridge;

/// <summary>
/// A task's /dev/kfd file held by the CRIU bridge: the CRIU ops are issued there (CRIU's main thread is the task's
/// ptrace parent, which KFD requires). The dmabuf fds CHECKPOINT returns arrive here over SCM_RIGHTS and replace the
/// bridge's fd numbers in the buckets. The slot belongs to the session, which closes it after the last UNPAUSE.
/// </summary>
internal sealed class BridgeKfdFile(BridgeConnection connection, int slot, uint pid) : IKfdFile
{
    private const uint NoFd = uint.MaxValue;

    public uint Pid { get; } = pid;

    public int Slot { get; } = slot;

    /// <summary>GET_VERSION is answered only to the file's own process: not through the bridge.</summary>
    public int GetVersion(ref KfdIoctlGetVersionArgs args) => Errno.EBADF;

    public int CriuOp(ref KfdIoctlCriuArgs args, Span<KfdCriuDeviceBucket> devices, Span<KfdCriuBoBucket> bos, Span<byte> privData)
    {
        var rc = connection.KfdOp(Slot, ref args, devices, bos, privData, out var fds);
        if (rc != 0) return rc;
        var next = 0;
        var count = (int)Math.Min(args.num_bos, (uint)bos.Length);
        for (var i = 0; i < count; i++)
        {
            if (bos[i].dmabuf_fd == NoFd) continue;
            if (next == fds.Length) break;
            bos[i].dmabuf_fd = (uint)fds[next++];
        }
        if (next != fds.Length || bos[..count].ToArray().Count(b => b.dmabuf_fd != NoFd) != next)
        {
            BridgeConnection.CloseAll(fds);
            throw new BridgeProtocolException($"KFD op {args.op} on pid {Pid}: {fds.Length} dmabuf fds arrived for {count} buckets");
        }
        return 0;
    }

    public void Dispose()
    {
        // The session closes the slot once nothing may UNPAUSE through it any more.
    }
}
