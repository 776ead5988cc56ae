using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Restore;

/// <summary>One stage of a restore plan, for --dry-run.</summary>
public sealed record RestoreStage(string Name, string Detail);
