namespace Gpuckpt.Simulator;

/// <summary>
/// Where a test build registers the simulator's fault table (Gpuckpt.TestHooks.dll, which the shipped gpuckpt does not
/// contain): without it the simulator refuses the fault op, and no call fails but by the kernel's rules.
/// </summary>
public static class SimFaultHooks
{
    private static Func<ISimFaults>? _factory;

    public static void Register(Func<ISimFaults> factory) => _factory = factory;

    /// <summary>A fresh table for one simulator, or null in a shipped gpuckpt.</summary>
    internal static ISimFaults? Create() => _factory?.Invoke();
}
