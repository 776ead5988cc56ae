using Gpuckpt.Engine.Native;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>
/// A target process's /dev/kfd file, taken over from it, on which the CRIU ops act. They are issued from the thread
/// that ptrace-seized the target (<see cref="PtraceThread"/>): KFD refuses them (EBADF) from anyone but the file's own
/// process or its ptrace parent, and (EACCES) without CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN.
/// </summary>
internal sealed unsafe class KfdProcessFile(uint pid, int fd, string device, PtraceThread tracer) : IKfdFile
{
    private int _fd = fd;

    public uint Pid { get; } = pid;

    /// <summary>GET_VERSION is no CRIU op: KFD answers it only to the file's own process (others get EBADF).</summary>
    public int GetVersion(ref KfdIoctlGetVersionArgs args) => DeviceIoctl.Call(Fd(), KfdIoctls.GetVersion, ref args);

    public int CriuOp(ref KfdIoctlCriuArgs args, Span<KfdCriuDeviceBucket> devices, Span<KfdCriuBoBucket> bos, Span<byte> privData)
    {
        // CHECKPOINT and RESTORE make the kernel read or write as many entries as the counts say: never past the spans.
        if (args.op is (uint)KfdCriuOp.Checkpoint or (uint)KfdCriuOp.Restore
            && (args.num_devices > (uint)devices.Length || args.num_bos > (uint)bos.Length || args.priv_data_size > (ulong)privData.Length))
            return Errno.EINVAL;
        var file = Fd();
        // CHECKPOINT and RESTORE refuse a NULL array even with a count of 0 (EINVAL): an empty one points here instead.
        var empty = stackalloc byte[sizeof(ulong)];
        fixed (KfdCriuDeviceBucket* d = devices)
        fixed (KfdCriuBoBucket* b = bos)
        fixed (byte* p = privData)
        {
            args.devices = devices.IsEmpty ? (ulong)empty : DeviceIoctl.Address(d, devices.Length);
            args.bos = bos.IsEmpty ? (ulong)empty : DeviceIoctl.Address(b, bos.Length);
            args.priv_data = privData.IsEmpty ? (ulong)empty : DeviceIoctl.Address(p, privData.Length);
            // The buffers stay pinned here while the tracing thread makes the call.
            var call = args;
            var rc = tracer.Call(() => DeviceIoctl.Call(file, KfdIoctls.CriuOp, ref call));
            args = call;
            return rc;
        }
    }

    private int Fd()
    {
        var fd = Volatile.Read(ref _fd);
        ObjectDisposedException.ThrowIf(fd < 0, this);
        return fd;
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd < 0) return;
        tracer.Dispose();
        if (Libc.Close(fd) != 0) throw new DriverException(Libc.LastErrno, "close", $"{device} of pid {Pid}");
    }
}
