using Gpuckpt.Engine.Bridge;

namespace Gpuckpt.TestHooks;

/// <summary>
/// Called by gpuckpt at start when this assembly sits beside it: registers the crash points' hook, the simulator's fault
/// table, and with <c>GPUCKPT_BRIDGE_FAULT</c> set, the bridge's fault-injecting variant (criu-faults/) for CRIU to load.
/// </summary>
public static class Registration
{
    public const string FaultBridgeDir = "criu-faults";

    public static void Register()
    {
        Actors.CrashPoints.Register(new EnvironmentCrashHook(Environment.GetEnvironmentVariable("GPUCKPT_CRASH_AT")));
        RegisterSimulatorFaults();
        var faults = Path.Combine(AppContext.BaseDirectory, FaultBridgeDir);
        if (Environment.GetEnvironmentVariable("GPUCKPT_BRIDGE_FAULT") is { Length: > 0 } && File.Exists(Path.Combine(faults, CriuInstall.BridgeFile)))
            CriuInstall.RegisterBridgeDir(faults);
    }

    /// <summary>The simulator's fault op, for the simulators a test process starts in itself.</summary>
    public static void RegisterSimulatorFaults() => Simulator.SimFaultHooks.Register(() => new SimFaultTable());
}
