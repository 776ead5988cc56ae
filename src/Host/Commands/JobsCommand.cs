using System.CommandLine;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Persistence;
using Gpuckpt.Actors.Restore;

namespace Gpuckpt.Host.Commands;

/// <summary>`gpuckpt jobs`: the journalled checkpoint and restore jobs and where each stands.</summary>
public static class JobsCommand
{
    public static Command Create()
    {
        var json = Cli.JsonOption();
        var engineOptions = new EngineOptions();
        var command = new Command("jobs", "list checkpoint and restore jobs from the journal") { json };
        engineOptions.AddTo(command);
        command.SetAction((parse, _) => Cli.Guard(async () =>
        {
            var jobs = await List(engineOptions.LoadExisting(parse));
            if (parse.GetValue(json))
                Cli.PrintJson(jobs.Select(j => new
                {
                    job_id = j.JobId, kind = j.Kind, state = j.State, driver = j.Driver, detail = j.Detail,
                    started_at = j.StartedAt, ended_at = j.Unfinished ? null : j.LastWritten,
                }));
            else if (jobs.Count == 0)
                Console.Out.WriteLine("no jobs");
            else
            {
                // Oldest first, times in UTC; an unfinished job has no end, and its last step says where it stands.
                Console.Out.WriteLine($"{"JOB",-20} {"KIND",-10} {"STATE",-11} {"STARTED (UTC)",-19} {"ENDED (UTC)",-19} DETAIL");
                foreach (var j in jobs.OrderBy(j => j.StartedAt ?? DateTime.MaxValue).ThenBy(j => j.JobId, StringComparer.Ordinal))
                    Console.Out.WriteLine($"{j.JobId,-20} {j.Kind,-10} {j.State,-11} {Time(j.StartedAt),-19} {(j.Unfinished ? "-" : Time(j.LastWritten)),-19} {j.Detail}");
            }
            return Cli.ExitOk;
        }));
        return command;
    }

    private static string Time(DateTime? t) => t is { } at ? at.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) : "?";

    /// <summary>One job as the journal tells it.</summary>
    /// <param name="Pid">the process a checkpoint job works on</param>
    /// <param name="ImagesDir">the image it writes or reads</param>
    /// <param name="StartedAt">when its first event was written (UTC), when the journal still holds it</param>
    public sealed record JobInfo(string JobId, string Kind, string State, string? Driver, string Detail, DateTime? LastWritten = null,
        uint? Pid = null, string? ImagesDir = null, DateTime? StartedAt = null)
    {
        /// <summary>Not ended: `resume` continues it, `abort` or `forget` ends it.</summary>
        public bool Unfinished => State is "unfinished" or "interrupted";

        /// <summary>"finished at 2026-… UTC (aborted: …)": what a command that needs an unfinished job says of a finished one.</summary>
        public string Ended => $"finished {(LastWritten is { } t ? $"at {t:yyyy-MM-dd HH:mm:ss} UTC" : "earlier")} ({State}: {Detail})";
    }

    /// <summary>
    /// Refuses a job id given anew (`--job`) that names a finished job: answering with that job's old result would
    /// say the new command succeeded without doing anything.
    /// </summary>
    public static async Task RefuseFinished(Config config, string? jobId)
    {
        if (jobId is null) return;
        if ((await List(config)).FirstOrDefault(j => j.JobId == jobId) is not { Unfinished: false } done) return;
        throw new UsageException($"job {jobId} {done.Ended}; choose another --job");
    }

    /// <summary>A job's start event, from its latest snapshot once the journal trimmed the event itself.</summary>
    private static async Task<object?> StartedFromSnapshot(ActorSystem system, string persistenceId)
    {
        var store = Persistence.Instance.Apply(system).SnapshotStoreFor(null);
        var loaded = await store.Ask<LoadSnapshotResult>(
            new LoadSnapshot(persistenceId, SnapshotSelectionCriteria.Latest, long.MaxValue), Actors.JobWaitSettings.From(system.Settings.Config).JournalAnswer);
        return loaded.Snapshot?.Snapshot switch
        {
            CheckpointState c => c.Started,
            _ => null,
        };
    }

    public static async Task<IReadOnlyList<JobInfo>> List(Config config)
    {
        JournalCheck.Opens(config);
        var system = ActorSystem.Create("gpuckpt-jobs", config);
        try
        {
            var journal = await JobJournal.OpenAsync(system);
            var jobs = new List<JobInfo>();
            // Jobs only: the journal also holds the processes' claims, whose last events need not be read.
            foreach (var entry in await journal.ListAsync(id => id.StartsWith("checkpoint-", StringComparison.Ordinal) || id.StartsWith("restore-", StringComparison.Ordinal)))
            {
                var (kind, jobId) = entry.PersistenceId.Split('-', 2) switch
                {
                    ["checkpoint", var id] => ("checkpoint", id),
                    ["restore", var id] => ("restore", id),
                    _ => (null, null),
                };
                if (kind is null || jobId is null) continue;
                var firstEvent = (await journal.EventsAsync(entry.PersistenceId, 1, 1)).FirstOrDefault();
                var first = firstEvent?.Event ?? await StartedFromSnapshot(system, entry.PersistenceId);
                var driver = first switch
                {
                    CheckpointStarted c => c.Driver,
                    RestoreStarted r => r.Driver,
                    _ => null,
                };
                var (pid, images) = first switch
                {
                    CheckpointStarted c => (c.Request.Pid, c.Request.ImagesDir),
                    RestoreStarted r => ((uint?)null, r.Request.ImagesDir),
                    _ => (null, null),
                };
                var (state, detail) = entry.LastEvent switch
                {
                    CheckpointFinished { Outcome: CheckpointFailed { EndedBy: { } by } f } => (by, f.Reason),
                    RestoreFinished { Outcome: RestoreFailed { EndedBy: { } by } f } => (by, f.Reason),
                    CheckpointInterrupted i => ("interrupted", $"by {i.Signal}; the process runs again: `gpuckpt resume {jobId}` or `gpuckpt abort {jobId}`"),
                    CheckpointFinished { Outcome: CheckpointCompleted c } => ("completed", $"pid {c.Summary.Pid} -> {c.Summary.ImagesDir}"),
                    CheckpointFinished { Outcome: CheckpointFailed f } => ("failed", f.Reason),
                    RestoreFinished { Outcome: RestoreCompleted c } => ("completed", $"{c.Summary.ImagesDir} -> pid {c.Summary.Pid}"),
                    RestoreFinished { Outcome: RestoreFailed f } => ("failed", f.Reason),
                    RestoreFinished { Outcome: var o } => ("failed", o.ToString() ?? ""),
                    CheckpointFinished { Outcome: var o } => ("failed", o.ToString() ?? ""),
                    null => ("unfinished", "last step: a snapshot"),
                    var last => ("unfinished", $"last step: {last.GetType().Name}"),
                };
                jobs.Add(new JobInfo(jobId, kind, state, driver, detail, entry.LastWritten, pid, images,
                    firstEvent is null ? null : JobJournal.WrittenAt(firstEvent.Timestamp)));
            }
            return jobs;
        }
        finally
        {
            await system.Terminate();
        }
    }
}
