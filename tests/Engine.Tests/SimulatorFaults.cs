using System.Runtime.CompilerServices;

namespace Gpuckpt.Engine.Tests;

/// <summary>The simulators these specs start in their own process get the test build's fault table.</summary>
internal static class SimulatorFaults
{
    [ModuleInitializer]
    internal static void Register() => Gpuckpt.TestHooks.Registration.RegisterSimulatorFaults();
}
