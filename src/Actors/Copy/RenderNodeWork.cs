using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Copy;

/// <summary>A render node's BOs to restore in passes: each BO with its import link, the session that creates them.</summary>
public sealed record RenderNodeWork(IReadOnlyList<(RenderBoRef Bo, ImportLink? Link)> Bos, RestoreSession Session);

// Between a job and its device actors, and a device actor and its BO actors: they carry live buffers and sessions.
