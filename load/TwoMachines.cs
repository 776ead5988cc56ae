using Gpuckpt.Simulator;

namespace Gpuckpt.Load;

/// <summary>
/// Two simulated machines, a and b (2 GPUs each, numbered apart so that a target maps them), under a scratch directory
/// removed when disposed: what the migration benches move processes between.
/// </summary>
public sealed class TwoMachines : IDisposable
{
    private TwoMachines(string work)
    {
        Work = work;
        SimA = SimulatorServer.Start(new SimulatorOptions(Path.Combine(work, "a.sock")) { Gpus = 2, IdSeed = 0 });
        SimB = SimulatorServer.Start(new SimulatorOptions(Path.Combine(work, "b.sock")) { Gpus = 2, IdSeed = 9 });
        A = SimulatorClient.Connect(SimA.SocketPath);
        B = SimulatorClient.Connect(SimB.SocketPath);
    }

    public static TwoMachines Start(string prefix) => new(Directory.CreateTempSubdirectory(prefix).FullName);

    public string Work { get; }
    public SimulatorServer SimA { get; }
    public SimulatorServer SimB { get; }
    public SimulatorClient A { get; }
    public SimulatorClient B { get; }

    public void Dispose()
    {
        A.Dispose();
        B.Dispose();
        SimA.Dispose();
        SimB.Dispose();
        try { Directory.Delete(Work, true); } catch (IOException) { }
    }
}
