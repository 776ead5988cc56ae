using Akka.Actor;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Persistence;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Actors.Tests.Persistence;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Npgsql;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Faults;

/// <summary>
/// The journal's PostgreSQL stops while a checkpoint copies. The job can no longer journal its progress, so it ends at
/// once with an error that says so and how to continue; it leaves the process paused (the intent to UNPAUSE cannot be
/// journalled either, and nothing is unpaused before its intent is) and the image uncommitted. With the database back,
/// `gpuckpt resume` (a fresh engine) finishes the job: the image commits whole and restores to exactly the process,
/// which is unpaused exactly once. The server is this class's own (a class fixture), so stopping it disturbs no other
/// spec. A row of faults.md.
/// </summary>
public sealed class JournalOutageSpecs(PostgresJournalSpecs.Server server, ITestOutputHelper output) : IClassFixture<PostgresJournalSpecs.Server>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    private const string Overrides = """
        akka.actor.serialize-messages = on
        gpuckpt.copy.chunk-size = 256KiB
        gpuckpt.copy.pool-chunks = 8
        gpuckpt.copy.workers-per-device = 3
        """;

    [PostgresFact]
    public async Task PostgreSQL_stopped_mid_copy_fails_the_job_cleanly_and_resume_finishes_it_with_one_unpause()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        var database = server.Cluster;
        using var node = new SimNode(gpus: 2);
        using var dir = new TempDir();
        var pid = node.Client.Spawn(new WorkloadRequest(null, (ulong)seed, SpecJson: Spec(random)));
        node.Client.Run(pid, 2);
        var digest = node.Client.State(pid).Digest;
        var images = dir.Sub("image");
        var state = dir.Sub("state");
        var job = JobsActor.NewId(JobsActor.CheckpointPrefix);
        var problems = new List<string>();

        // Six chunks read, the seventh held: the job is in its copy until the test lets more through.
        using var gate = new GatedCopyDriver(node.Client, passing: 6);
        ICheckpointMessage first;
        await using (var engine = Engine(gate, state))
        {
            var reply = engine.CheckpointAsync(new CheckpointRequest(pid, images, LeaveRunning: true, JobId: job), Timeout);
            await gate.Held.WaitAsync(Timeout);
            database.Stop();
            ClearPool(database);
            // Four more chunks land and must be journalled; every later read stays held, so the copy cannot finish.
            gate.Allow(4);
            first = await reply;
            gate.Open();
        }

        var failure = first as CheckpointFailed;
        if (failure is null) problems.Add($"the job answered {first} with its journal gone");
        else if (!failure.Reason.Contains("journal", StringComparison.Ordinal) || !failure.Reason.Contains($"gpuckpt resume {job}", StringComparison.Ordinal))
            problems.Add("the failure does not say the journal failed and how to continue");
        var stranded = node.Client.State(pid);
        // Nothing is unpaused while the intent to UNPAUSE cannot be journalled: the process waits, paused, for the resume.
        if (!stranded.Paused || stranded.Counters.Unpause != 0) problems.Add($"with the journal gone: paused {stranded.Paused}, {stranded.Counters.Unpause} UNPAUSEs");
        var wrongly = ManifestCodec.Load(images).State == ImageState.Committed ? 1 : 0;
        if (wrongly > 0) problems.Add("the image was committed although the job failed mid-copy");

        database.Start();
        ClearPool(database);
        string outcome;
        var unpauses = 0;
        long lost = 0;
        await using (var engine = Engine(node.Client, state))
        {
            var resumed = await engine.Jobs.Ask<ICheckpointMessage>(new ResumeJob(job), Timeout);
            var after = node.Client.State(pid);
            unpauses = after.Counters.Unpause;
            if (unpauses != 1 || after.Paused) problems.Add($"after resume: paused {after.Paused}, {unpauses} UNPAUSEs");
            if (resumed is not CheckpointCompleted)
            {
                outcome = $"{failure?.Reason ?? first.ToString()}; resume with PostgreSQL back: {resumed}";
                problems.Add("the resumed job did not complete");
            }
            else
            {
                outcome = $"failed: {failure?.Reason}; process left paused, image uncommitted; with PostgreSQL back, resume completed: one UNPAUSE, image restores to the process";
                var restored = await engine.RestoreAsync(new RestoreRequest(images), Timeout);
                if (restored is not RestoreCompleted { Summary: var summary })
                {
                    wrongly = 1;
                    problems.Add($"the committed image does not restore: {restored}");
                }
                else
                {
                    if (node.Client.State(summary.Pid).Digest != digest)
                    {
                        wrongly = 1;
                        lost = summary.Bytes;
                        problems.Add("the committed image restores to another state");
                    }
                    node.Client.Kill(summary.Pid);
                }
            }
        }
        output.WriteLine(outcome);
        FaultReport.Add(new("PostgreSQL (the journal) stopped", "checkpoint: copy (postgres journal)", outcome, unpauses, 0, wrongly, lost, problems.Count == 0));
        node.Client.Kill(pid);
        Assert.True(problems.Count == 0, $"seed {seed}: {string.Join("; ", problems)} ({outcome})");
    }

    /// <summary>An engine whose jobs are journalled in this class's PostgreSQL.</summary>
    private EngineHost Engine(IGpuDriver driver, string stateDir) =>
        EngineHost.Start(driver, JournalConfig.Load("journal-postgres.conf", stateDir, server.Cluster.ConnectionString)
            .WithFallback(EngineConfig.Load(overrides: Overrides)));

    /// <summary>Connections pooled before the server went away are dead: the next engine opens new ones.</summary>
    private static void ClearPool(PostgresCluster database)
    {
        using var connection = new NpgsqlConnection(database.ConnectionString);
        NpgsqlConnection.ClearPool(connection);
    }

    /// <summary>
    /// Two GPUs, three to five BOs each of drawn page-multiple sizes, every one larger than a chunk (256 KiB here): each
    /// chunk is then one read of one BO, so the gate counts chunks.
    /// </summary>
    private static string Spec(Random random)
    {
        var bos = Enumerable.Range(0, 2).SelectMany(gpu => Enumerable.Range(0, 3 + random.Next(3)).Select(_ =>
            $"{{\"gpu\":{gpu},\"domain\":\"vram\",\"size\":{(64 + random.Next(256)) * 4096L + (256L << 10)}}}"));
        return $"{{\"gpus\":2,\"kfd_bos\":[{string.Join(",", bos)}]}}";
    }
}
