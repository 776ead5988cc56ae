using System.Diagnostics;
using Gpuckpt.Actors;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Simulation;
using HdrHistogram;

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
            var checkpoints = new LongHistogram(TimeStamp.Hours(1), 3);
            var restores = new LongHistogram(TimeStamp.Hours(1), 3);
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
                    lock (checkpoints) checkpoints.RecordValue(Stopwatch.GetTimestamp() - start);
                    start = Stopwatch.GetTimestamp();
                    var restored = await engine.RestoreAsync(new RestoreRequest(images), TimeSpan.FromMinutes(10));
                    lock (restores) restores.RecordValue(Stopwatch.GetTimestamp() - start);
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

    private static void Print(string name, LongHistogram h)
    {
        double Ms(double percentile) => h.GetValueAtPercentile(percentile) * 1000.0 / Stopwatch.Frequency;
        Console.WriteLine($"{name,-10} p50 {Ms(50),7:F1} ms  p90 {Ms(90),7:F1} ms  p99 {Ms(99),7:F1} ms  max {h.GetMaxValue() * 1000.0 / Stopwatch.Frequency,7:F1} ms");
    }
}
