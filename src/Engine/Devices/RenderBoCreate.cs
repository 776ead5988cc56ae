using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Devices;

/// <summary>
/// What a restore asks of one render-node BO it recreates (<see cref="IRenderNode.CreateBos"/>), in order: GEM_CREATE;
/// GEM_CHANGE_HANDLE to the handle the BO had when the new one differs; GEM_VA(MAP) of each of its mappings; GEM_MMAP
/// unless the BO bars CPU access; PRIME_HANDLE_TO_FD where the copy engine writes it. The calls stop at the first that
/// fails: <see cref="FailedCall"/> names it and <see cref="Rc"/> holds its errno.
/// </summary>
public sealed class RenderBoCreate(DrmAmdgpuGemCreate create, uint handle, DrmAmdgpuGemVa[] mappings, bool mmap, bool prime)
{
    public const string CreateCall = "GEM_CREATE", ChangeCall = "GEM_CHANGE_HANDLE", VaCall = "GEM_VA(MAP)", MmapCall = "GEM_MMAP",
        PrimeCall = "PRIME_HANDLE_TO_FD";

    /// <summary>In: the BO's size, alignment and domains; out (once created): the handle the file gave it.</summary>
    public DrmAmdgpuGemCreate Create = create;

    /// <summary>The handle the BO had in the image, which it must have again.</summary>
    public uint Handle { get; } = handle;

    public DrmAmdgpuGemVa[] Mappings { get; } = mappings;

    public bool WantsMmap { get; } = mmap;
    public DrmAmdgpuGemMmap Mmap = new() { handle = handle };

    public bool WantsPrime { get; } = prime;
    public DrmPrimeHandle Prime = new() { handle = handle, flags = AmdgpuGem.DrmCloexec | AmdgpuGem.DrmRdwr };

    /// <summary>Whether its calls ran (a batch stops at the first BO that fails: those after it are not tried).</summary>
    public bool Tried { get; set; }

    /// <summary>Whether GEM_CREATE made a GEM object, which a rollback closes (at <see cref="HandleNow"/>).</summary>
    public bool Created { get; set; }

    /// <summary>Whether the object was moved to <see cref="Handle"/> (or had it from the start).</summary>
    public bool Moved { get; set; }

    /// <summary>The handle the object has in the file now: its own once moved, else the one GEM_CREATE gave it.</summary>
    public uint HandleNow => Moved ? Handle : Create.handle;

    /// <summary>The first call that failed (null when none did), its errno, and which mapping it was for GEM_VA.</summary>
    public string? FailedCall { get; private set; }
    public int Rc { get; private set; }
    public int FailedMapping { get; private set; } = -1;

    public bool Failed => FailedCall is not null;

    /// <summary>Records a call's result; false (and the calls stop) when it failed.</summary>
    public bool Answered(string call, int rc, int mapping = -1)
    {
        if (rc == 0) return true;
        (FailedCall, Rc, FailedMapping) = (call, rc, mapping);
        return false;
    }

    /// <summary>The calls one by one, each through the file as if alone.</summary>
    public void Run(IRenderNode node)
    {
        Tried = true;
        if (!Answered(CreateCall, node.GemCreate(ref Create))) return;
        Created = true;
        if (Create.handle != Handle)
        {
            var change = new DrmGemChangeHandle { handle = Create.handle, new_handle = Handle };
            if (!Answered(ChangeCall, node.GemChangeHandle(ref change))) return;
        }
        Moved = true;
        for (var i = 0; i < Mappings.Length; i++)
            if (!Answered(VaCall, node.GemVa(ref Mappings[i]), i)) return;
        if (WantsMmap && !Answered(MmapCall, node.GemMmap(ref Mmap))) return;
        if (WantsPrime) Answered(PrimeCall, node.PrimeHandleToFd(ref Prime));
    }
}
