using Akka.Actor;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Faults;

/// <summary>
/// What every row of the fault table asserts, shared by the specs that fill it: a job ends with a clear error or
/// completes; a paused process is unpaused exactly once; no image is reported committed unless it restores to exactly
/// the process it was taken from; a failed restore leaves no process behind and resumes none. Each call adds one row
/// to faults.md (<see cref="FaultReport"/>) and returns what went wrong, if anything.
/// </summary>
public abstract class FaultTableSpec(ITestOutputHelper output, string? extra = null) : EngineSpec(output, extra)
{
    /// <summary>Runs one checkpoint of <paramref name="pid"/> (then killed) and records its row.</summary>
    /// <param name="pauses">Whether the process gets paused before the fault strikes (then exactly one UNPAUSE must follow).</param>
    /// <param name="settings">The engine's settings for this job (injected copy faults); the spec's by default.</param>
    /// <param name="check">More problems to look for once the job answered (the image's bytes, the words of its error).</param>
    /// <param name="completed">How the row tells a completed job, when <paramref name="check"/> proved more than that.</param>
    private protected async Task<List<string>> CheckpointRow(SimNode node, uint pid, string images, string fault, string phase, bool pauses,
        Action? afterPause = null, EngineSettings? settings = null, Func<ICheckpointMessage, IEnumerable<string>>? check = null,
        string completed = "completed")
    {
        var before = node.Client.State(pid);
        Sys.ActorOf(JobsActor.Props(node.Client, settings ?? Settings, Pool)).Tell(new CheckpointRequest(pid, images, LeaveRunning: true), TestActor);
        if (afterPause is not null)
        {
            // Bounded: a job that answers before it pauses (or never pauses) ends the wait; the row then says so.
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (!node.Client.State(pid).Paused && !HasMessages && waited.Elapsed < JobTimeout) await Task.Delay(10);
            if (node.Client.State(pid).Paused) afterPause();
            else
            {
                var early = HasMessages ? $"{await ExpectMsgAsync<ICheckpointMessage>()}" : "no answer";
                FaultReport.Add(new(fault, phase, $"never paused: {early}", 0, 0, 0, 0, false));
                if (Exists(node, pid)) node.Client.Kill(pid);
                return [$"{fault} / {phase}: the process was never paused while the job ran ({early})"];
            }
        }
        var reply = await ExpectMsgAsync<ICheckpointMessage>(JobTimeout);
        var alive = Exists(node, pid);
        var after = alive ? node.Client.State(pid) : null;
        var unpauses = after is null ? 0 : after.Counters.Unpause - before.Counters.Unpause;
        var state = File.Exists(Path.Combine(images, ImageManifest.FileName)) ? ManifestCodec.Load(images).State : (ImageState?)null;
        var problems = new List<string>();
        long lost = 0;
        var wrongly = 0;
        string outcome;
        switch (reply)
        {
            case CheckpointCompleted:
                outcome = completed;
                if (!alive) problems.Add("completed although the process died");
                else
                {
                    // Committed: it must restore to exactly the process it was taken from (not run since).
                    var restored = await Restore(node.Client, images);
                    if (node.Client.State(restored.Pid).Digest != after!.Digest)
                    {
                        lost = restored.Bytes;
                        wrongly = 1;
                        problems.Add("the committed image restores to another state");
                    }
                    node.Client.Kill(restored.Pid);
                }
                break;
            case CheckpointFailed f:
                outcome = $"failed: {f.Reason}";
                if (state == ImageState.Committed) wrongly = 1;
                if (after is not null && after.Digest != before.Digest) lost = (long)after.Bytes;
                if (after is not null && !after.Running) problems.Add("left paused");
                break;
            default:
                outcome = $"{reply}";
                problems.Add("no answer a client understands");
                break;
        }
        if (pauses && alive && unpauses != 1) problems.Add($"{unpauses} UNPAUSEs took effect");
        if (wrongly > 0) problems.Add("image reported committed");
        if (lost > 0) problems.Add($"{lost} bytes lost");
        if (check is not null) problems.AddRange(check(reply));
        FaultReport.Add(new(fault, phase, outcome, unpauses, 0, wrongly, lost, problems.Count == 0));
        if (alive) node.Client.Kill(pid);
        return [.. problems.Select(p => $"{fault} / {phase}: {p} ({outcome})")];
    }

    /// <summary>Runs one restore of <paramref name="images"/> and records its row.</summary>
    /// <param name="expectedDigest">The state of the process the image was taken from: a restore that completes must give exactly it.</param>
    /// <param name="clear">Whether a failure's reason says what went wrong (the errno, the file and offset).</param>
    /// <param name="untouched">The restore must fail before it creates any process (it may not touch the device at all).</param>
    /// <param name="disarm">Takes an injected driver fault away once the job answered (before the processes are counted).</param>
    private protected async Task<List<string>> RestoreRow(SimNode node, string images, string fault, string phase, string expectedDigest,
        Func<string, bool> clear, EngineSettings? settings = null, bool untouched = false, Action? disarm = null)
    {
        // Pids are handed out in order: every process the restore created lies between these two.
        var before = node.Client.Spawn(WorkloadRequest.Named("tiny", 1));
        Sys.ActorOf(JobsActor.Props(node.Client, settings ?? Settings, Pool)).Tell(new RestoreRequest(images), TestActor);
        var reply = await ExpectMsgAsync<IRestoreMessage>(JobTimeout);
        disarm?.Invoke();
        var after = node.Client.Spawn(WorkloadRequest.Named("tiny", 1));
        var created = after - before - 1;
        var left = Enumerable.Range((int)before + 1, (int)created).Select(p => (uint)p).Where(p => Exists(node, p)).ToList();
        var resumes = left.Sum(p => node.Client.State(p).Counters.Resume);
        var problems = new List<string>();
        string outcome;
        switch (reply)
        {
            case RestoreFailed f:
                outcome = untouched && created == 0 ? $"refused before touching the device: {f.Reason}" : $"failed: {f.Reason}";
                if (!clear(f.Reason)) problems.Add("the reason does not say what went wrong");
                if (left.Count > 0) problems.Add($"processes left: {string.Join(", ", left)}");
                if (untouched && created > 0) problems.Add($"{created} processes created before the refusal");
                break;
            case RestoreCompleted c:
                // The fault was never reached (the op was not needed): the restore must then be exactly right.
                outcome = $"completed as pid {c.Summary.Pid} (fault not reached)";
                if (!left.SequenceEqual([c.Summary.Pid]) || node.Client.State(c.Summary.Pid).Digest != expectedDigest)
                    problems.Add("the restored process differs from the one checkpointed, or others were left");
                if (untouched) problems.Add("restored an image it should have refused");
                break;
            default:
                outcome = $"{reply}";
                problems.Add("no answer a client understands");
                break;
        }
        FaultReport.Add(new(fault, phase, outcome, 0, resumes, 0, 0, problems.Count == 0));
        foreach (var p in left.Append(before).Append(after)) node.Client.Kill(p);
        return [.. problems.Select(p => $"{fault} / {phase}: {p} ({outcome})")];
    }

    /// <summary>Each KFD page file of an image as its device's name and its number of chunks (segments after the prefix).</summary>
    protected static List<(string Device, int Chunks)> KfdDevices(string dir) =>
        [.. ManifestCodec.Load(dir).Files
            .Where(f => ImageFileName.TryParse(f.Name)?.Kind == ImageFileKind.KfdPages)
            .Select(f => ($"GPU 0x{ImageFileName.Parse(f.Name).GpuId:x}", f.Segments.Count - 1))];

    private protected static uint Spawn(SimNode node)
    {
        var pid = node.Client.Spawn(WorkloadRequest.Named("train", 41, sizeBytes: 6UL << 20));
        node.Client.Run(pid, 2);
        return pid;
    }

    private protected static bool Exists(SimNode node, uint pid)
    {
        try
        {
            node.Client.State(pid);
            return true;
        }
        catch (DriverException e) when (e.ErrorNumber == Errno.ESRCH)
        {
            return false;
        }
    }

    /// <summary>What differs between two images: file names, segments and checksums, bytes (empty when they are identical).</summary>
    protected static IEnumerable<string> Differences(string expectedDir, string actualDir)
    {
        var expected = ManifestCodec.Load(expectedDir);
        var actual = ManifestCodec.Load(actualDir);
        if (actual.State != ImageState.Committed) yield return $"image is {actual.State}";
        if (!expected.Files.Select(f => f.Name).SequenceEqual(actual.Files.Select(f => f.Name)))
        {
            yield return "other files than the undisturbed image";
            yield break;
        }
        foreach (var (e, a) in expected.Files.Zip(actual.Files))
        {
            if (!e.Segments.SequenceEqual(a.Segments)) yield return $"{a.Name} has other segments or checksums";
            if (!File.ReadAllBytes(Path.Combine(expectedDir, e.Name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(actualDir, a.Name))))
                yield return $"{a.Name} differs from the undisturbed image";
        }
    }
}
