using Gpuckpt.Engine.Transfer;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// A kernel a node hosts for the GPU processes it dumps and restores (the emulated KFD over its own simulator): a
/// process's CRIU dump runs under the kernel that holds it, a restore under a kernel of its own bound to this node's
/// GPUs, which the restored process then lives under.
/// </summary>
public interface IProcessKernel
{
    /// <summary>Whether <paramref name="pid"/> runs under a kernel of this node.</summary>
    bool Holds(uint pid);

    /// <summary>Why CRIU cannot dump <paramref name="pid"/> under this node's kernel (null: it can, or the process is not under it).</summary>
    string? Refusal(uint pid);

    /// <summary>Runs gpuckpt with <paramref name="args"/> (a <c>checkpoint --criu</c> of <paramref name="pid"/>) under the kernel that holds the process.</summary>
    Task<GpuckptChildResult> DumpAsync(uint pid, IReadOnlyList<string> args, TimeSpan limit);

    /// <summary>Runs gpuckpt with <paramref name="args"/> (a <c>restore --criu</c>) under a new kernel of this node; a restored process stays under it.</summary>
    Task<GpuckptChildResult> RestoreAsync(IReadOnlyList<string> args, TimeSpan limit);
}
