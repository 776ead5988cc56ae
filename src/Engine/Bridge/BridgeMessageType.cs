namespace Gpuckpt.Engine.Bridge;

/// <summary>The messages on the bridge socket (src/Bridge/bridge_protocol.h, enum bridge_type).</summary>
public enum BridgeMessageType : ushort
{
    /// <summary>Bridge to engine, first: the protocol version, CRIU's stage and pid, the hooks this build registers.</summary>
    Hello = 1,
    /// <summary>Bridge to engine: a hook was called (its arguments; DUMP_EXT_FILE's and HANDLE_DEVICE_VMA's fd).</summary>
    Hook = 2,
    /// <summary>Engine to bridge: what the hook returns to CRIU, and a line for CRIU's log.</summary>
    Reply = 3,
    /// <summary>Engine to bridge: open a path in the bridge's process (a restored task opens its own devices).</summary>
    Open = 4,
    /// <summary>Engine to bridge: take a task's fd with pidfd_getfd.</summary>
    Take = 5,
    /// <summary>Engine to bridge: issue AMDKFD_IOC_CRIU_OP on a held KFD file, from the bridge's thread.</summary>
    KfdOp = 6,
    /// <summary>Engine to bridge: close a held file.</summary>
    Close = 7,
    /// <summary>Bridge to engine: the outcome of a request, its buffers and the fds it produced.</summary>
    Result = 8,
}
