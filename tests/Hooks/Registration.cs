namespace Gpuckpt.TestHooks;

/// <summary>Called by gpuckpt at start when this assembly sits beside it: registers the crash points' hook.</summary>
public static class Registration
{
    public static void Register() => Actors.CrashPoints.Register(new EnvironmentCrashHook(Environment.GetEnvironmentVariable("GPUCKPT_CRASH_AT")));
}
