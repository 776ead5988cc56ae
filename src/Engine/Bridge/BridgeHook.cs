namespace Gpuckpt.Engine.Bridge;

/// <summary>CRIU's plugin hook numbers (criu-plugin.h, CR_PLUGIN_HOOK__*), plus the plugin's own init and exit.</summary>
public enum BridgeHook : uint
{
    DumpExtFile = 2,
    RestoreExtFile = 3,
    HandleDeviceVma = 7,
    UpdateVmaMap = 8,
    ResumeDevicesLate = 9,
    PauseDevices = 10,
    CheckpointDevices = 11,
    PostForking = 12,
    /// <summary>Only in CRIU builds whose header declares it (after 4.2.1).</summary>
    RestoreInit = 13,
    /// <summary>Only in CRIU builds whose header declares it (after 4.2.1).</summary>
    DumpDevicesLate = 14,
    Init = 100,
    Exit = 101,
}
