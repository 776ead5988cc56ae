using System.Text.Json;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Engine.Transfer;

/// <summary>
/// The processes that arrived on a node by migration, kept in <c>migrations/arrived.json</c> of its state directory so
/// that a restarted node still lists them. Replaced atomically (a temporary file, fsync, rename, fsync of the
/// directory): a crash leaves the old list or the new one, never half of either.
/// </summary>
public sealed class ArrivedProcesses(string stateDir)
{
    public const string FileName = "arrived.json";

    public string Path { get; } = System.IO.Path.Combine(stateDir, "migrations", FileName);

    /// <summary>The list as last written; empty when there is none yet.</summary>
    public IReadOnlyList<ArrivedProcess> Read()
    {
        if (!File.Exists(Path)) return [];
        try
        {
            return JsonSerializer.Deserialize<List<ArrivedProcess>>(File.ReadAllBytes(Path)) ?? [];
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{Path}: not a list of arrived processes: {e.Message}", e);
        }
    }

    public void Write(IReadOnlyList<ArrivedProcess> processes)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        FileSync.Replace(Path, JsonSerializer.SerializeToUtf8Bytes(processes));
    }

    /// <summary>
    /// Those of <paramref name="processes"/> that still exist on <paramref name="driver"/>. Only ESRCH counts as gone:
    /// a driver that cannot answer now keeps the process listed.
    /// </summary>
    public static IReadOnlyList<ArrivedProcess> StillRunning(IGpuDriver driver, IEnumerable<ArrivedProcess> processes) =>
        [.. processes.Where(p => Exists(driver, p.Pid))];

    private static bool Exists(IGpuDriver driver, uint pid)
    {
        try
        {
            driver.RenderMinorsOpenedBy(pid);
            return true;
        }
        catch (DriverException e) when (e.ErrorNumber == Errno.ESRCH)
        {
            return false;
        }
        catch (DriverException)
        {
            return true;
        }
    }
}
