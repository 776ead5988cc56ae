using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Gpuckpt.Actors;
using Gpuckpt.Emulator;
using Gpuckpt.Engine.Bridge;
using Gpuckpt.Simulator;

namespace Gpuckpt.Host.Commands;

/// <summary>
/// `gpuckpt demo --criu`: a whole GPU process through CRIU. A stand-in process holds the emulated kernel's /dev/kfd and
/// render nodes for a simulated train process and counts on its CPU; `checkpoint --criu` dumps it (CRIU ends it),
/// `restore --criu` brings it back under its pid, and the demo shows that the counter went on from the dumped value and
/// that the restored GPU state runs on as an uninterrupted twin does.
/// </summary>
internal static class CriuDemo
{
    public static async Task<int> Run(ulong size, ulong steps, ulong seed, bool json)
    {
        if (!Environment.IsPrivilegedProcess)
            throw new InvalidOperationException("demo --criu needs root: CRIU and the emulated kernel's namespace need CAP_SYS_ADMIN (run it with sudo)");
        var criu = CriuInstall.Require();
        if (!EmulatorPrograms.Built)
            throw new InvalidOperationException($"the emulated kernel's programs are not built in {EmulatorPrograms.Dir}: install gcc and rebuild gpuckpt");
        var settings = EngineConfig.Load();
        var timeout = settings.GetTimeSpan("gpuckpt.criu.demo-timeout");
        var ticks = settings.GetInt("gpuckpt.criu.demo-counter-ticks");

        var work = Directory.CreateTempSubdirectory("gpuckpt-demo-criu-").FullName;
        var kernels = new List<EmulatedKernel>();
        var running = new List<int>();
        using var interrupts = new Interrupts(_ =>
        {
            lock (kernels) foreach (var k in kernels) k.Abort();
        });
        void Say(string line)
        {
            if (!json) Console.Out.WriteLine(line);
        }
        try
        {
            using var server = SimulatorServer.Start(new SimulatorOptions(Path.Combine(work, "sim.sock")) { Gpus = 2, IdSeed = 17 });
            using var sim = SimulatorClient.Connect(server.SocketPath);
            var simPid = sim.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: size));
            var twin = sim.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: size));
            sim.Run(simPid, steps);
            sim.Run(twin, steps);
            var spawned = sim.State(simPid);
            Say($"simulated train (seed {seed}): {spawned.Bos} BOs, {spawned.Bytes} bytes on 2 GPUs, {steps} steps run; an untouched twin beside it");

            var counter = Path.Combine(work, "counter");
            var images = Path.Combine(work, "image");
            var state = Path.Combine(work, "state");

            // The dump: the stand-in holds the devices and counts; `checkpoint --criu` runs under the emulated kernel.
            int pid, atDump;
            double dumpSeconds;
            using (var kernel = Track(kernels, new EmulatedKernel(server, new EmulatedKernelOptions
            {
                Targets = [("train", simPid)],
                KfdCharacterDevice = true,
                Counters = new Dictionary<string, string> { ["train"] = counter },
            })))
            {
                using var host = kernel.Serve(timeout);
                pid = kernel.PidOf("train");
                lock (running) running.Add(pid);
                Say($"stand-in process {pid} holds /dev/kfd and its render nodes for it; its CPU counter runs");
                WaitForCounter(counter, ticks, timeout, interrupts, pid);
                var output = Path.Combine(work, "checkpoint.out");
                var clock = Stopwatch.StartNew();
                var rc = host.Run(output, [.. Gpuckpt("checkpoint", "--criu", "--pid", $"{pid}", "--images", images, "--shell-job", "--state-dir", state, "--json")]);
                dumpSeconds = clock.Elapsed.TotalSeconds;
                if (interrupts.Signal is not null) return Interrupted(interrupts);
                if (rc != 0) return Failed($"checkpoint --criu of pid {pid} exited {rc}: {Last(output)}");
            }
            WaitGone(pid, timeout);
            var dumped = Counts(counter);
            atDump = dumped.Count > 0 ? dumped[^1] : 0;
            var imageBytes = new DirectoryInfo(images).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
            Say($"checkpoint --criu: pid {pid} dumped by CRIU {criu.Version} with its GPU state and ended, counter at {atDump}, image {imageBytes / 1048576.0:F1} MiB, {dumpSeconds:F2} s");

            // The restore: `restore --criu` under a fresh emulated kernel; the restored task inherits its filter from CRIU.
            var restoring = Track(kernels, new EmulatedKernel(server, new EmulatedKernelOptions { KfdCharacterDevice = true }));
            using (restoring)
            {
                using var host = restoring.Serve(timeout);
                var output = Path.Combine(work, "restore.out");
                var clock = Stopwatch.StartNew();
                var rc = host.Run(output, [.. Gpuckpt("restore", "--criu", "--images", images, "--shell-job", "--state-dir", Path.Combine(work, "state-restore"),
                    "--trust-key", Path.Combine(state, "image.key"), "--json")]);
                var restoreSeconds = clock.Elapsed.TotalSeconds;
                if (interrupts.Signal is not null) return Interrupted(interrupts);
                if (rc != 0) return Failed($"restore --criu exited {rc}: {Last(output)}");
                var after = RestoredPid(output);
                lock (running) running.Add(after);
                try
                {
                    if (restoring.Restores is not [var restore] || restore.Errno != 0)
                        return Failed($"the restored process issued {restoring.Restores.Count} KFD RESTOREs ({string.Join(", ", restoring.Restores.Select(r => $"errno {r.Errno}"))}), not one that succeeded");
                    var resumes = restoring.Resumes.Count(r => r.Errno == 0);
                    Say($"restore --criu: pid {after} back, its GPU state rebuilt inside it (RESTORE by the task itself), RESUME {resumes}x, {restoreSeconds:F2} s");

                    WaitForCounter(counter, dumped.Count + ticks, timeout, interrupts, after);
                    if (interrupts.Signal is not null) return Interrupted(interrupts);
                    var counts = Counts(counter);
                    var firstAfter = counts[dumped.Count];
                    var nowAt = counts[^1];

                    sim.Run(restore.SimPid, steps);
                    sim.Run(twin, steps);
                    var restored = sim.State(restore.SimPid);
                    var reference = sim.State(twin);

                    var samePid = after == pid && restore.Process == pid;
                    var counterGoesOn = firstAfter == atDump + 1 && nowAt >= firstAfter;
                    var sameGpu = restored.Digest == reference.Digest && restored.Step == reference.Step;
                    var ok = samePid && counterGoesOn && sameGpu && resumes == 1;
                    if (json)
                        Cli.PrintJson(new
                        {
                            ok,
                            pid_before = pid,
                            pid_after = after,
                            counter_at_dump = atDump,
                            counter_first_after_restore = firstAfter,
                            counter_after_restore = nowAt,
                            digest_restored = restored.Digest,
                            digest_twin = reference.Digest,
                            step = restored.Step,
                            resumes,
                            image_bytes = imageBytes,
                            checkpoint_seconds = dumpSeconds,
                            restore_seconds = restoreSeconds,
                            criu_version = criu.Version.ToString(),
                        });
                    else
                    {
                        Console.Out.WriteLine($"pid before {pid}, after {after}: {(samePid ? "equal" : "DIFFERENT")}");
                        Console.Out.WriteLine($"CPU counter at dump {atDump}, first after restore {firstAfter}, now {nowAt}: {(counterGoesOn ? "it went on from the dumped value" : "it did NOT go on from the dumped value")}");
                        Console.Out.WriteLine($"GPU digest after +{steps} steps, restored {restored.Digest}");
                        Console.Out.WriteLine($"GPU digest after +{steps} steps, twin     {reference.Digest}: {(sameGpu ? "equal" : "DIFFERENT")}");
                        Console.Out.WriteLine($"image {imageBytes} bytes; checkpoint {dumpSeconds:F2} s, restore {restoreSeconds:F2} s");
                        Console.Out.WriteLine(ok ? "the whole process came back under its pid and went on as if never stopped" : "MISMATCH: the restored process differs");
                    }
                    return ok ? Cli.ExitOk : Cli.ExitFailed;
                }
                finally
                {
                    // The restored task is the taskhost's (it adopted it from criu): ended and reaped there.
                    if (Directory.Exists($"/proc/{after}")) host.Kill(after);
                }
            }
        }
        catch (Exception e) when (interrupts.Signal is not null && e is not OutOfMemoryException)
        {
            return Interrupted(interrupts);
        }
        finally
        {
            lock (kernels) foreach (var k in kernels) k.Abort();
            lock (running) foreach (var p in running) End(p);
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    private static EmulatedKernel Track(List<EmulatedKernel> kernels, EmulatedKernel kernel)
    {
        lock (kernels) kernels.Add(kernel);
        return kernel;
    }

    /// <summary>This gpuckpt, as a command the emulated kernel runs.</summary>
    private static string[] Gpuckpt(params string[] args)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this gpuckpt is unknown");
        return Path.GetFileNameWithoutExtension(self) == "dotnet" ? [self, Path.Combine(AppContext.BaseDirectory, "gpuckpt.dll"), .. args] : [self, .. args];
    }

    private static int Interrupted(Interrupts interrupts)
    {
        Console.Error.WriteLine($"gpuckpt: demo --criu interrupted ({interrupts.Signal}): its processes are ended and its files removed");
        return interrupts.ExitCode;
    }

    private static int Failed(string line)
    {
        Console.Error.WriteLine($"gpuckpt: demo --criu: {line}");
        return Cli.ExitFailed;
    }

    private static string Last(string output) =>
        File.Exists(output) ? string.Join(" | ", File.ReadAllLines(output).Where(l => l.Length > 0).TakeLast(3)) : "(no output)";

    /// <summary>The pid `restore --criu --json` printed.</summary>
    private static int RestoredPid(string output)
    {
        var line = File.ReadLines(output).LastOrDefault(l => l.StartsWith('{')) ?? throw new InvalidDataException($"restore --criu printed no result: {Last(output)}");
        using var doc = JsonDocument.Parse(line);
        return doc.RootElement.GetProperty("pid").GetInt32();
    }

    /// <summary>The values the counter appended so far (a line being written is not one yet).</summary>
    private static List<int> Counts(string file)
    {
        if (!File.Exists(file)) return [];
        var text = File.ReadAllText(file);
        var whole = text[..(text.LastIndexOf('\n') + 1)];
        return [.. whole.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => int.Parse(l, CultureInfo.InvariantCulture))];
    }

    /// <summary>Waits for the counter's file to hold <paramref name="count"/> values; a counter whose process ended is an error.</summary>
    private static void WaitForCounter(string file, int count, TimeSpan timeout, Interrupts interrupts, int pid)
    {
        var clock = Stopwatch.StartNew();
        while (Counts(file).Count < count)
        {
            if (interrupts.Signal is not null) return;
            if (!Running(pid)) throw new InvalidOperationException($"pid {pid} ended with its counter in {file} at {Counts(file).Count} of {count} values");
            if (clock.Elapsed > timeout) throw new TimeoutException($"the stand-in's counter in {file} reached {Counts(file).Count} of {count} values in {timeout}");
            Thread.Sleep(20);
        }
    }

    /// <summary>Whether <paramref name="pid"/> exists and is no zombie (/proc/PID/stat: the state follows the name's parenthesis).</summary>
    private static bool Running(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2] is not ('Z' or 'X');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void WaitGone(int pid, TimeSpan timeout)
    {
        if (!SpinWait.SpinUntil(() => !Directory.Exists($"/proc/{pid}"), timeout))
            throw new TimeoutException($"pid {pid} was still there {timeout} after its dump: CRIU cannot restore it under its pid");
    }

    private static void End(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // already gone
        }
    }
}
