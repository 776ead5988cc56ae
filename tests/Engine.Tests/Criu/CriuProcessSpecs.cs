using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Criu;

/// <summary>
/// Real `criu dump` and `criu restore` (CRIU 4.2, .ci/install-criu) of gpuapp, a process with a CPU counter: the
/// restored process has the dumped one's pid and continues its counter as an uninterrupted twin does.
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
        var app = new GpuAppOutput(Dir("app.out"), Timeout);
        var twin = new GpuAppOutput(Dir("twin.out"), Timeout);
        var pid = host.Spawn(app.Path, CriuPrograms.GpuApp, "plain", seed);
        var twinPid = host.Spawn(twin.Path, CriuPrograms.GpuApp, "plain", seed);
        app.WaitFor("ready");
        twin.WaitFor("ready");
        for (var i = 0; i < 3; i++) Assert.Equal(twin.Step(twinPid), app.Step(pid));

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

    internal static string Tail(string log) =>
        File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(15)) : $"{log} was not written";

    internal static string Status(int pid, string key) =>
        File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(key, StringComparison.Ordinal))[key.Length..].Trim();
}
