namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>
/// A CRIU plugin hook the bridge relies on: its number in <c>enum cr_plugin_hook</c> and the first CRIU release whose
/// criu-plugin.h declares it (null: no release up to 4.2.1 has it, only CRIU's development branch).
/// </summary>
public sealed record CriuHook(string Name, int Number, Version? Since)
{
    /// <summary>The hooks whole-process checkpoints use, in criu-plugin.h's order.</summary>
    public static readonly IReadOnlyList<CriuHook> Needed =
    [
        new("DUMP_EXT_FILE", 2, new Version(1, 4)),
        new("RESTORE_EXT_FILE", 3, new Version(1, 4)),
        new("UPDATE_VMA_MAP", 8, new Version(3, 17)),
        new("RESUME_DEVICES_LATE", 9, new Version(3, 17)),
        new("PAUSE_DEVICES", 10, new Version(4, 0)),
        new("CHECKPOINT_DEVICES", 11, new Version(4, 0)),
        new("POST_FORKING", 12, new Version(4, 2)),
        new("DUMP_DEVICES_LATE", 14, null),
    ];

    /// <summary>The newest release whose hooks this table knows; a newer CRIU's are read from its criu-plugin.h.</summary>
    public static readonly Version NewestKnown = new(4, 2, 1);

    /// <summary>Whether CRIU <paramref name="version"/> calls this hook, by the release history.</summary>
    public bool CalledBy(Version version) => Since is { } since && version >= since;
}
