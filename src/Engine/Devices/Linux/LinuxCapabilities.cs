using System.Globalization;

namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>The checkpointer's effective capabilities, from the CapEff line of its /proc status file.</summary>
public static class LinuxCapabilities
{
    public const int CapSysPtrace = 19, CapSysAdmin = 21, CapCheckpointRestore = 40;

    public static ulong Effective(string statusPath)
    {
        foreach (var line in File.ReadLines(statusPath))
            if (line.StartsWith("CapEff:", StringComparison.Ordinal)
                && ulong.TryParse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var caps))
                return caps;
        throw new InvalidDataException($"{statusPath}: no CapEff line");
    }

    /// <summary>KFD allows the CRIU ops with either capability.</summary>
    public static bool MayCheckpoint(ulong effective) =>
        (effective & (1UL << CapCheckpointRestore)) != 0 || (effective & (1UL << CapSysAdmin)) != 0;
}
