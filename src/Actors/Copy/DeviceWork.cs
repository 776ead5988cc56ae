using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Copy;

/// <summary>The work of a device actor: its plan, which chunks are left, and the ends of the copy.</summary>
/// <param name="Remaining">Indexes into the plan's chunks still to copy (after a restart, the journalled ones are not).</param>
/// <param name="Sinks">Checkpoint: the page files, by the plan's file index.</param>
/// <param name="Sources">Restore: the page files, by the plan's file index.</param>
/// <param name="Map">Opens a BO's mapping (read-only for a checkpoint, writable for a restore).</param>
/// <param name="PrepareMaps">Declares BOs about to be mapped, one call for many (<see cref="IGpuDriver.PrepareMaps"/>).</param>
/// <param name="ForgetMaps">Drops declarations no mapping used (<see cref="IGpuDriver.ForgetMaps"/>).</param>
public sealed record DeviceWork(
    DeviceContents Plan,
    IReadOnlyList<int> Remaining,
    IReadOnlyList<IChunkSink>? Sinks,
    IReadOnlyList<IChunkSource>? Sources,
    Func<BoSource, IBoMapping> Map,
    Action<IReadOnlyList<BoSource>>? PrepareMaps = null,
    Action<IReadOnlyList<BoSource>>? ForgetMaps = null)
{
    public bool Saving => Sinks is not null;
}
