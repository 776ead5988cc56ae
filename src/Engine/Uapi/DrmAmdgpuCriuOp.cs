using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>enum drm_amdgpu_criu_op</c> (proposal of seed 000).</summary>
public enum DrmAmdgpuCriuOp : uint
{
    ProcessInfo = 0,
    Checkpoint = 1,
    Unpause = 2,
    Restore = 3,
    RestoreRetry = 4,
    Resume = 5,
}
