using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Simulator;

/// <summary>
/// A simulated process kept running as a job runs: a workload step every millisecond, on a connection of its own, until
/// the process is gone (released after a move) or <see cref="Stop"/>; steps refused while it is paused are waited out.
/// <see cref="Steps"/> counts the steps it ran, which a twin takes too to stay its reference.
/// </summary>
public sealed class Serving : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task<ulong> _steps;

    private Serving(string socketPath, uint pid) => _steps = Task.Run(() => Serve(socketPath, pid, _stop.Token));

    public static Serving Start(string socketPath, uint pid) => new(socketPath, pid);

    /// <summary>Stops stepping; how many steps ran.</summary>
    public async Task<ulong> Stop()
    {
        await _stop.CancelAsync();
        return await _steps;
    }

    public void Dispose() => _stop.Cancel();

    private static ulong Serve(string socketPath, uint pid, CancellationToken stop)
    {
        using var client = SimulatorClient.Connect(socketPath);
        ulong steps = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                client.Run(pid, 1);
                steps++;
            }
            catch (DriverException e) when (e.ErrorNumber == Errno.EBUSY)
            {
                // Paused (by a checkpoint or a move): its queues run again when it is unpaused, or it is released.
            }
            catch (DriverException e) when (e.ErrorNumber == Errno.ESRCH)
            {
                break;
            }
            Thread.Sleep(1);
        }
        return steps;
    }
}
