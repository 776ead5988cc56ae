using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Copy;

/// <summary>The BO actor <paramref name="Actor"/> answered restore pass <paramref name="Pass"/>: restored, or skipped because its exporter does not exist yet.</summary>
public sealed record RenderBoPassed(int Pass, string Bo, bool Restored, string? WaitsFor, string Actor) : ICopyMessage;
