using Gpuckpt.Emulator;
using Gpuckpt.Engine.Tests.Emulation;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Criu;

/// <summary>
/// Real `criu dump` and `criu restore` (CRIU 4.2, .ci/install-criu) of gpuapp, a process with a CPU counter: the
/// restored process has the dumped one's pid and continues its counter as an uninterrupted twin does; under the
/// emulated kernel too, where criu restore runs under the emulator's seccomp filter and the image loses that filter
/// before the restore, so the restored process's device requests are served again.
/// </summary>
public sealed class CriuProcessSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-criu-spec-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Dir(string name) => Path.Combine(_dir.FullName, name);

    [Fact]
    public void A_plain_process_dumped_and_restored_by_criu_runs_on_with_its_pid_and_continues_its_counter()
    {
        var seed = $"{(ulong)TestSeed.Fresh() * 2654435761UL}";
        using var host = TaskHost.Start(Timeout);
        var (app, pid, twin, twinPid) = GpuAppOutput.StartPlainWithTwin(host, _dir.FullName, seed, Timeout, steps: 3);

        var images = Directory.CreateDirectory(Dir("images")).FullName;
        var dump = host.Run(Dir("criu.out"), CriuPrograms.Criu, "dump", "-t", $"{pid}", "-D", images, "-o", "dump.log");
        Assert.True(dump == 0, $"seed {seed}: criu dump exited {dump}: {Tail(Path.Combine(images, "dump.log"))}");
        // criu dump kills the task it dumped; its pid is free once it is reaped.
        Assert.Equal(128 + 9, host.Wait(pid));
        Assert.False(Directory.Exists($"/proc/{pid}"));

        var restore = host.Run(Dir("criu.out"), CriuPrograms.Criu, "restore", "-D", images, "-d", "-o", "restore.log");
        Assert.True(restore == 0, $"seed {seed}: criu restore exited {restore}: {Tail(Path.Combine(images, "restore.log"))}");
        Assert.Equal(Path.GetFileName(CriuPrograms.GpuApp), File.ReadAllText($"/proc/{pid}/comm").Trim());
        Assert.Equal($"{host.Pid}", Status(pid, "PPid:")); // the restored task, adopted by the taskhost: the same pid runs again

        // Four more steps continue the counter from the dumped value, as the twin's do.
        for (var i = 0; i < 4; i++) Assert.Equal(twin.Step(twinPid), app.Step(pid));
        Assert.Equal(twin.Lines.Skip(1), app.Lines.Skip(1));
        Assert.Equal(Enumerable.Range(1, 7).Select(n => $"step={n}"), app.Lines.Skip(1).Select(l => l.Split(' ')[0]));
    }

    [Fact]
    [Trait("Tier", "Full")]
    public void Under_the_emulated_kernel_a_restored_process_keeps_its_pid_and_counter_and_its_kfd_requests_are_served_again()
    {
        var seed = $"{(ulong)TestSeed.Fresh() * 2654435761UL}";
        using var sim = new TestSimulator(gpus: 1);
        using var kernel = new EmulatedKernel(sim.Server, new EmulatedKernelOptions());
        using var host = kernel.Serve(Timeout);
        using var outside = TaskHost.Start(Timeout);
        var app = new GpuAppOutput(Dir("app.out"), Timeout);
        var twin = new GpuAppOutput(Dir("twin.out"), Timeout);
        var pid = host.Spawn(app.Path, CriuPrograms.GpuApp, "kfd", seed);
        var twinPid = host.Spawn(twin.Path, CriuPrograms.GpuApp, "kfd", seed);
        // AMDKFD_IOC_GET_VERSION on the emulated /dev/kfd (a plain file to the real kernel) is answered by the emulator.
        Assert.EndsWith(" kfd=1.14", app.WaitFor("ready"));
        twin.WaitFor("ready");
        for (var i = 0; i < 3; i++) Assert.Equal(twin.Step(twinPid), app.Step(pid));

        var images = Directory.CreateDirectory(Dir("images")).FullName;
        var dump = outside.Run(Dir("criu.out"), EmulatedKernel.OutsideTheFilter(host, CriuPrograms.Criu, "dump", "-t", $"{pid}", "-D", images, "-o", "dump.log"));
        Assert.True(dump == 0, $"seed {seed}: criu dump under the emulated kernel exited {dump}: {Tail(Path.Combine(images, "dump.log"))}");
        Assert.Equal(128 + 9, host.Wait(pid));
        // The image holds the emulator's filter (it returns SECCOMP_RET_USER_NOTIF) as the task's one filter.
        var filter = Assert.Single(CriuImageEdit.SeccompFilters(images));
        Assert.True(CriuImageEdit.NotifiesUser(filter));
        Assert.Equal(2, CriuImageEdit.SeccompModes(images)[$"core-{pid}.img"]);

        // As dumped, the restored filter has no listener: the kernel answers the intercepted ioctl with ENOSYS.
        var asDumped = Directory.CreateDirectory(Dir("as-dumped")).FullName;
        foreach (var f in Directory.GetFiles(images)) File.Copy(f, Path.Combine(asDumped, Path.GetFileName(f)));
        Assert.Equal(0, host.Run(Dir("criu.out"), CriuPrograms.Criu, "restore", "-D", asDumped, "-d", "-o", "restore.log"));
        Assert.EndsWith(" kfd=errno:38", app.Step(pid));
        Assert.Equal(128 + 9, host.Kill(pid));

        CriuImageEdit.DropSeccomp(images);
        Assert.Empty(CriuImageEdit.SeccompFilters(images));
        Assert.Equal(0, CriuImageEdit.SeccompModes(images)[$"core-{pid}.img"]);
        var restore = host.Run(Dir("criu.out"), CriuPrograms.Criu, "restore", "-D", images, "-d", "-o", "restore.log");
        Assert.True(restore == 0, $"seed {seed}: criu restore under the emulated kernel exited {restore}: {Tail(Path.Combine(images, "restore.log"))}");
        Assert.Equal($"{host.Pid}", Status(pid, "PPid:"));
        // One filter: the one inherited from criu, with its listener; none came back from the image.
        Assert.Equal(("2", "1"), (Status(pid, "Seccomp:"), Status(pid, "Seccomp_filters:")));

        var replayed = app.Lines.Count;
        for (var i = 0; i < 4; i++)
        {
            var line = app.Step(pid);
            Assert.EndsWith(" kfd=1.14", line);
            Assert.Equal(twin.Step(twinPid), line);
        }
        // Steps 1-3, step 4 of the as-dumped copy, then steps 4-7 again from the dumped counter.
        Assert.Equal(Enumerable.Range(1, 4).Concat(Enumerable.Range(4, 4)).Select(n => $"step={n}"), app.Lines.Skip(1).Select(l => l.Split(' ')[0]));
        Assert.Equal(twin.Lines.Skip(4), app.Lines.Skip(replayed));
    }

    [Fact]
    [Trait("Tier", "Full")]
    public void Without_a_plugin_criu_dump_refuses_the_gpu_processes_kfd_file_by_name_and_leaves_it_running_unchanged()
    {
        var seed = $"{(ulong)TestSeed.Fresh() * 2654435761UL}";
        using var sim = new TestSimulator(gpus: 1);
        var minor = $"{sim.Server.Topology.Gpus[0].DrmRenderMinor}";
        using var kernel = new EmulatedKernel(sim.Server, new EmulatedKernelOptions { CharacterDevices = true });
        using var host = kernel.Serve(Timeout);
        using var outside = TaskHost.Start(Timeout);
        var app = new GpuAppOutput(Dir("app.out"), Timeout);
        var twin = new GpuAppOutput(Dir("twin.out"), Timeout);
        var pid = host.Spawn(app.Path, CriuPrograms.GpuApp, "gpu", seed, minor);
        var twinPid = host.Spawn(twin.Path, CriuPrograms.GpuApp, "gpu", seed, minor);
        Assert.EndsWith(" kfd=1.14", app.WaitFor("ready"));
        twin.WaitFor("ready");
        for (var i = 0; i < 2; i++) Assert.Equal(twin.Step(twinPid), app.Step(pid));
        // Its /dev/kfd (fd 3) and render node (fd 4) are character devices that CRIU has no dumper for.
        foreach (var fd in new[] { 3, 4 })
            Assert.Equal("character special file 10:229", FileType(pid, fd));

        var images = Directory.CreateDirectory(Dir("images")).FullName;
        var dump = outside.Run(Dir("criu.out"), EmulatedKernel.OutsideTheFilter(host, CriuPrograms.Criu, "dump", "-t", $"{pid}", "-D", images, "-o", "dump.log"));
        Assert.NotEqual(0, dump);
        var log = File.ReadAllText(Path.Combine(images, "dump.log"));
        Assert.Matches(@"Error \(criu/files-ext\.c:\d+\): Can't dump file 3 of that type \[20666\] \(chr 10:229\)", log);
        Assert.Contains("Dumping FAILED.", log);
        Assert.False(File.Exists(Path.Combine(images, "inventory.img")), "a refused dump left an inventory: an image that looks whole");

        // criu let it go as it was: running, untraced, its counter and its kfd requests going on as the twin's.
        Assert.Equal("0", Status(pid, "TracerPid:"));
        Assert.DoesNotMatch("^[tT]", Status(pid, "State:"));
        for (var i = 0; i < 2; i++)
        {
            var line = app.Step(pid);
            Assert.EndsWith(" kfd=1.14", line);
            Assert.Equal(twin.Step(twinPid), line);
        }
        Assert.Equal(twin.Lines.Skip(1), app.Lines.Skip(1));
    }

    private static string FileType(int pid, int fd)
    {
        var (rc, output, err) = Uapi.CHeaderAbi.Exec("stat", ["-L", "-c", "%F %t:%T", $"/proc/{pid}/fd/{fd}"]);
        Assert.True(rc == 0, err);
        var f = output.Trim().Split(' ');
        var numbers = f[^1].Split(':').Select(h => Convert.ToInt32(h, 16));
        return $"{string.Join(' ', f[..^1])} {string.Join(':', numbers)}";
    }

    internal static string Tail(string log) =>
        File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(15)) : $"{log} was not written";

    internal static string Status(int pid, string key) =>
        File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(key, StringComparison.Ordinal))[key.Length..].Trim();
}
