using Akka.Configuration;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Host.Commands;

/// <summary>A journalled job a control command acts on (`resume`, `abort`, `forget`), and whether what it works on is still there.</summary>
internal static class JobTargets
{
    /// <summary>The job <paramref name="id"/> from the journal; a usage error when there is none.</summary>
    public static async Task<JobsCommand.JobInfo> Find(Config config, string id) =>
        (await JobsCommand.List(config)).FirstOrDefault(j => j.JobId == id) ?? throw new UsageException($"no job {id} in the journal");

    /// <summary>The driver the job names (or <paramref name="driver"/>); a usage error when the journal no longer says.</summary>
    public static string DriverOf(JobsCommand.JobInfo job, string? driver) =>
        driver ?? job.Driver ?? throw new UsageException($"job {job.JobId}: the journal no longer says which driver it used; pass --driver");

    /// <summary>
    /// Opens the job's driver and checks its process (a checkpoint's): <paramref name="gone"/> says why the job cannot go on
    /// (the driver does not open, the process no longer exists), and the driver returned is then an <see cref="UnreachableDriver"/>
    /// when it did not open.
    /// </summary>
    public static IGpuDriver Open(JobsCommand.JobInfo job, string spec, out string? gone)
    {
        IGpuDriver gpu;
        try
        {
            gpu = Drivers.Open(spec);
        }
        catch (DriverException e)
        {
            gone = $"its driver {spec} cannot be opened ({e.Message})";
            return new UnreachableDriver(spec, gone);
        }
        gone = null;
        if (job.Kind != "checkpoint" || job.Pid is not { } pid) return gpu;
        try
        {
            using (gpu.OpenKfd(pid)) { }
        }
        catch (DriverException e) when (e.ErrorNumber == Errno.ESRCH)
        {
            gone = $"its process, pid {pid}, no longer exists";
        }
        return gpu;
    }

    /// <summary>What the user can run instead of resuming a job that cannot continue.</summary>
    public static string WayOut(JobsCommand.JobInfo job, bool driverGone) => driverGone
        ? $"`gpuckpt forget {job.JobId}` drops it from the journal"
        : $"`gpuckpt abort {job.JobId}` ends it{(job.Kind == "checkpoint" ? " and removes its partial image" : " and removes what it restored")}, " +
          $"or `gpuckpt forget {job.JobId}` drops it as it is";

    /// <summary>A control command's reply that is not the ending it asked for: the job's own outcome, reported as its command would.</summary>
    public static int ReportOutcome(object reply, bool asJson) => reply switch
    {
        ICheckpointMessage c => CheckpointCommand.Report(c, asJson),
        IRestoreMessage r => RestoreCommand.Report(r, asJson),
        _ => throw new InvalidOperationException($"unexpected reply {reply}"),
    };
}
