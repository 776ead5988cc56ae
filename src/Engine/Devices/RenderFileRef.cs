namespace Gpuckpt.Engine.Devices;

/// <summary>
/// One open file of a render node in a process: a process may open renderD{minor} more than once (each open file has
/// its own GEM handles and VM), while dup'ed fds share one. <see cref="Index"/> counts the distinct files of a minor.
/// </summary>
public sealed record RenderFileRef(uint Minor, int Index)
{
    public override string ToString() => Index == 0 ? $"renderD{Minor}" : $"renderD{Minor} (file {Index + 1})";
}
