using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Checkpoint;

/// <summary>What PROCESS_INFO reports: the sizes CHECKPOINT needs.</summary>
public sealed record KfdProcessInfo(uint NumDevices, uint NumBos, uint NumObjects, ulong PrivDataSize);
