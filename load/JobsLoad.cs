using System.Diagnostics;
using Gpuckpt.Actors;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Simulator;
using Gpuckpt.Load.Statistics;

namespace Gpuckpt.Load;

/// <summary>
/// N checkpoint → restore → compare jobs of small workloads, C at a time, against one engine and one simulator.
/// Latencies in HdrHistogram; a restored copy that does not continue like its original counts as a failure.
/// </summary>
public static class JobsLoad
{
    public static async Task<int> Run(int jobs, int concurrency, ulong size)
    {
        var work = Directory.CreateTempSubdirectory("gpuckpt-load-").FullName;
        try
        {
            using var server = SimulatorServer.Start(new SimulatorOptions(Path.Combine(work, "sim.sock")) { Gpus = 2 });
            using var client = SimulatorClient.Connect(server.SocketPath);
            await using var engine = EngineHost.Start(client);
            var checkpoints = new LatencyStats();
            var restores = new LatencyStats();
            var failures = 0;
            var gate = new SemaphoreSlim(concurrency);
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, jobs).Select(async i =>
            {
                await gate.WaitAsync();
                try
                {
                    var pid = client.Spawn(WorkloadRequest.Named("train", (ulong)i + 100, sizeBytes: size));
                    client.Run(pid, 2);
                    var images = Path.Combine(work, $"job-{i}");
                    var start = Stopwatch.GetTimestamp();
                    var saved = await engine.CheckpointAsync(new CheckpointRequest(pid, images, LeaveRunning: true), TimeSpan.FromMinutes(10));
                    checkpoints.Record(Stopwatch.GetElapsedTime(start));
                    start = Stopwatch.GetTimestamp();
                    var restored = await engine.RestoreAsync(new RestoreRequest(images), TimeSpan.FromMinutes(10));
                    restores.Record(Stopwatch.GetElapsedTime(start));
                    if (saved is not CheckpointCompleted || restored is not RestoreCompleted r)
                    {
                        Interlocked.Increment(ref failures);
                        return;
                    }
                    client.Run(pid, 3);
                    client.Run(r.Summary.Pid, 3);
                    if (client.State(pid).Digest != client.State(r.Summary.Pid).Digest) Interlocked.Increment(ref failures);
                    client.Kill(pid);
                    client.Kill(r.Summary.Pid);
                    Directory.Delete(images, true);
                }
                catch (Exception e)
                {
                    Console.Error.WriteLine($"job {i}: {e.Message}");
                    Interlocked.Increment(ref failures);
                }
                finally
                {
                    gate.Release();
                }
            }));
            var seconds = clock.Elapsed.TotalSeconds;
            Console.WriteLine($"{jobs} jobs (train, {size} bytes), {concurrency} at a time: {seconds:F1} s, {jobs / seconds:F2} jobs/s, {failures} failed");
            Print("checkpoint", checkpoints);
            Print("restore", restores);
            return failures == 0 ? 0 : 1;
        }
        finally
        {
            try { Directory.Delete(work, true); } catch (IOException) { }
        }
    }

    // A percentile the sample count cannot support reads "n/a (needs ≥ N samples)", never the max.
    private static void Print(string name, LatencyStats stats)
    {
        var s = stats.Summary();
        Console.WriteLine($"{name,-10} {s.Count} samples, " + string.Join(", ", s.Percentiles.Select(p => $"{p.Label} {p.Describe()}")) + $", max {s.MaxMs:F1} ms (milliseconds)");
    }
}
