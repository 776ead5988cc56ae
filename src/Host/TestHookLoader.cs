using System.Reflection;

namespace Gpuckpt.Host;

/// <summary>
/// Loads the test build's hooks (crash points) when Gpuckpt.TestHooks.dll sits beside gpuckpt.dll, as it does only in
/// a test project's output; a published gpuckpt has no such file and runs without hooks.
/// </summary>
public static class TestHookLoader
{
    public const string AssemblyFile = "Gpuckpt.TestHooks.dll";

    public static void LoadIfPresent()
    {
        var path = Path.Combine(AppContext.BaseDirectory, AssemblyFile);
        if (!File.Exists(path)) return;
        var registration = Assembly.LoadFrom(path).GetType("Gpuckpt.TestHooks.Registration")
                           ?? throw new InvalidOperationException($"{path} has no Gpuckpt.TestHooks.Registration");
        registration.GetMethod("Register", BindingFlags.Public | BindingFlags.Static)!.Invoke(null, null);
    }
}
