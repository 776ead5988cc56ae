namespace Gpuckpt.Simulator;

/// <summary>The simulated driver's calls a fault can be injected into.</summary>
public enum SimOp
{
    ProcessInfo,
    Checkpoint,
    Unpause,
    Restore,
    Resume,
    GemCreate,
    GemClose,
    GemMmap,
    GemVa,
    GemChangeHandle,
    PrimeHandleToFd,
    PrimeFdToHandle,
    GemListHandles,
    GemMappingInfo,
    MapBo,
    Ctx,
    CommandSubmit,
    WaitCs,
}
