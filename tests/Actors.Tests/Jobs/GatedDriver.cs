using Gpuckpt.Engine.Devices;
using Gpuckpt.Tests.Support;

namespace Gpuckpt.Actors.Tests.Jobs;

/// <summary>
/// A driver whose RenderFilesOpenedBy (a call of the checkpoint's capture step) blocks until <see cref="Release"/>, as a
/// hung ioctl would; the state of the process at the moment of release is kept for the test to look at.
/// </summary>
internal sealed class GatedDriver(IGpuDriver inner, Func<object> observe) : ForwardingDriver(inner)
{
    private readonly ManualResetEventSlim _gate = new();
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public object? ObservedAtRelease { get; private set; }

    /// <summary>Completes when the gated call is entered.</summary>
    public Task Entered => _entered.Task;

    public void Release()
    {
        ObservedAtRelease = observe();
        _gate.Set();
    }

    public override IReadOnlyList<RenderFileRef> RenderFilesOpenedBy(uint pid)
    {
        _entered.TrySetResult();
        _gate.Wait();
        return Inner.RenderFilesOpenedBy(pid);
    }

    public override void Dispose()
    {
        _gate.Set();
        _gate.Dispose();
    }
}
