using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Checkpoint;

/// <summary>The KFD CRIU op sequence of a checkpoint, each call checked.</summary>
public static class KfdCheckpoint
{
    /// <summary>PROCESS_INFO: pauses the process (evicts its queues) and returns the sizes of its state.</summary>
    public static KfdProcessInfo ProcessInfo(IKfdFile kfd)
    {
        var args = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.ProcessInfo, pid = kfd.Pid };
        kfd.CriuOp(ref args, [], [], []).Check("CRIU_OP(PROCESS_INFO)", Device(kfd));
        return new KfdProcessInfo(args.num_devices, args.num_bos, args.num_objects, args.priv_data_size);
    }

    /// <summary>CHECKPOINT: buckets, private data, and a dmabuf fd for every BO that has one.</summary>
    public static KfdSnapshot Checkpoint(IKfdFile kfd, KfdProcessInfo info)
    {
        if (info.PrivDataSize > int.MaxValue)
            throw new DriverException(Errno.ENOMEM, "CRIU_OP(CHECKPOINT)", Device(kfd), detail: $"private data of {info.PrivDataSize} bytes");
        var devices = new KfdCriuDeviceBucket[info.NumDevices];
        var bos = new KfdCriuBoBucket[info.NumBos];
        var priv = new byte[info.PrivDataSize];
        var args = new KfdIoctlCriuArgs
        {
            op = (uint)KfdCriuOp.Checkpoint,
            pid = kfd.Pid,
            num_devices = info.NumDevices,
            num_bos = info.NumBos,
            num_objects = info.NumObjects,
            priv_data_size = info.PrivDataSize,
        };
        kfd.CriuOp(ref args, devices, bos, priv).Check("CRIU_OP(CHECKPOINT)", Device(kfd));
        return new KfdSnapshot(kfd.Pid, devices, bos, priv, args.num_objects);
    }

    /// <summary>UNPAUSE: the process's queues run again.</summary>
    public static void Unpause(IKfdFile kfd)
    {
        var args = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.Unpause, pid = kfd.Pid };
        kfd.CriuOp(ref args, [], [], []).Check("CRIU_OP(UNPAUSE)", Device(kfd));
    }

    private static string Device(IKfdFile kfd) => $"/dev/kfd of pid {kfd.Pid}";
}
