using System.Text.Json;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Engine.Transfer;

/// <summary>A process that runs on this node because migration <paramref name="MigrationId"/> brought it here.</summary>
public sealed record ArrivedProcess(string MigrationId, uint Pid, string From);
