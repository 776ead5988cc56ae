using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>enum kfd_criu_op</c>.</summary>
public enum KfdCriuOp : uint
{
    ProcessInfo = 0,
    Checkpoint = 1,
    Unpause = 2,
    Restore = 3,
    Resume = 4,
}
