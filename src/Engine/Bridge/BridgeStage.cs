namespace Gpuckpt.Engine.Bridge;

/// <summary>CRIU's plugin stages (CR_PLUGIN_STAGE__*), which init and exit are called with.</summary>
public enum BridgeStage
{
    Dump = 0,
    PreDump = 1,
    Restore = 2,
}
