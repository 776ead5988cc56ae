namespace Gpuckpt.Simulator.Protocol;

/// <summary>
/// Request kinds on the simulator's socket. A request frame is u32 length, u32 opcode, payload; a reply frame is
/// u32 length, i32 errno, payload (on an error: the reason as a string). Lengths count what follows them.
/// </summary>
internal enum SimOpcode : uint
{
    Topology = 1,
    OpenKfd = 2,
    KfdIoctl = 3,
    OpenRender = 4,
    RenderIoctl = 5,
    CloseFd = 6,
    DmabufInode = 7,
    MapInfo = 8,
    CreateRestoreTarget = 9,
    RenderMinors = 10,
    Spawn = 11,
    Run = 12,
    State = 13,
    Fault = 14,
    Kill = 15,
    CopyDelay = 16,
    RestoreTargets = 17,
    DmabufInodes = 18,
    CloseFds = 19,
    MapInfos = 20,
    MapThrough = 21,
    RenderFiles = 22,
    OpenRenderFile = 23,
    Dirty = 24,
    CopyInfo = 25,
    RenderIoctls = 26,
    RenderCreates = 27,
}
