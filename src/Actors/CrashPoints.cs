namespace Gpuckpt.Actors;

/// <summary>
/// Named points in the engine where crash-recovery tests kill it. Nothing happens there unless a test build has
/// registered a hook (Gpuckpt.TestHooks.dll, which the shipped gpuckpt does not contain).
/// </summary>
public static class CrashPoints
{
    private static ICrashHook? _hook;

    public static void Register(ICrashHook hook) => _hook = hook;

    public static void Hit(string name) => _hook?.Hit(name);
}
