using Gpuckpt.Simulator;

namespace Gpuckpt.Actors.Tests;

/// <summary>A simulated driver on a fresh socket with a connected client: one "machine" of a test.</summary>
internal sealed class SimNode : IDisposable
{
    private static int _next;

    public SimNode(int gpus = 2, uint idSeed = 0)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"gpuckpt-actors-{Environment.ProcessId}-{Interlocked.Increment(ref _next)}");
        Directory.CreateDirectory(dir);
        Dir = dir;
        Server = SimulatorServer.Start(new SimulatorOptions(Path.Combine(dir, "sim.sock")) { Gpus = gpus, IdSeed = idSeed });
        Client = SimulatorClient.Connect(Server.SocketPath);
    }

    public string Dir { get; }
    public SimulatorServer Server { get; }
    public SimulatorClient Client { get; }

    public void Dispose()
    {
        Client.Dispose();
        Server.Dispose();
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}

/// <summary>A fresh directory for images, removed afterwards.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Path = Directory.CreateTempSubdirectory("gpuckpt-img-").FullName;

    public string Path { get; }

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
