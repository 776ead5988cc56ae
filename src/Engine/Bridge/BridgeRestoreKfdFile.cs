using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Bridge;

/// <summary>
/// The /dev/kfd a restored task opened through the bridge. RESTORE is issued there, by the task itself (the kernel binds
/// the restored KFD process to the task that issues it); RESUME goes through CRIU's main process at RESUME_DEVICES_LATE,
/// by pid, once every task and mapping exists.
/// </summary>
internal sealed class BridgeRestoreKfdFile(BridgeRestoreDriver driver, BridgeKfdFile task) : IKfdFile
{
    public uint Pid => task.Pid;

    /// <summary>The bridge's slot in the task that holds the file.</summary>
    public int Slot => task.Slot;

    public int GetVersion(ref KfdIoctlGetVersionArgs args) => task.GetVersion(ref args);

    public int CriuOp(ref KfdIoctlCriuArgs args, Span<KfdCriuDeviceBucket> devices, Span<KfdCriuBoBucket> bos, Span<byte> privData)
    {
        if (args.op == (uint)KfdCriuOp.Resume) return driver.ResumeThroughCriu(ref args);
        var rc = task.CriuOp(ref args, devices, bos, privData);
        if (rc == 0 && args.op == (uint)KfdCriuOp.Restore) driver.Restored(devices[..(int)Math.Min(args.num_devices, (uint)devices.Length)], bos[..(int)Math.Min(args.num_bos, (uint)bos.Length)]);
        return rc;
    }

    public void Dispose()
    {
        // The slot stays the task's: CRIU received a dup of it as the task's /dev/kfd.
    }
}
