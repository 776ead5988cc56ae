using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Gpuckpt.Actors.Cluster;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Transfer;

namespace Gpuckpt.Actors.Migration;

/// <summary>A node killed in the middle of a whole-process migration: the record in its directory says where it stood.</summary>
public sealed partial class CriuMigrationSource
{
    /// <summary>What the directory a killed node left says: see <see cref="CriuMigrationStep"/>.</summary>
    private static async Task<object> RecoverAsync(string dir, string images, TimeSpan limit)
    {
        var record = CriuMigrationRecord.Read(dir);
        if (record is null)
        {
            // Killed before the target answered: nothing was touched.
            Directory.Delete(dir, recursive: true);
            return Forgotten.Instance;
        }
        if (record.Step == CriuMigrationStep.Dumping)
        {
            // The dump runs in a child of the killed node, which may still be at it: its end decides.
            if (!await WaitDumpEnded(images, limit).ConfigureAwait(false))
                return new Lost(record, $"the dump into {images} was still running {limit.TotalSeconds:F0} s after the node started again");
            if (record.Source.SameAs(ProcessIdentity.Of(record.Source.Pid))) return new Untouched(record);
            var verified = ProcessManifest.Verify(images);
            if (!verified.Ok)
                return new Lost(record, $"pid {record.Source.Pid} ended during its dump and the dump in {images} does not verify: {verified.Describe()}");
            record = record with { Step = CriuMigrationStep.Dumped };
            record.Write(dir);
        }
        return record.Step == CriuMigrationStep.Dumped ? new Dumped(WholeProcessImageFiles.List(images), record) : record;
    }

    /// <summary>No process left running `checkpoint --criu` into <paramref name="images"/> (its command line names the directory).</summary>
    private static async Task<bool> WaitDumpEnded(string images, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (DumpRunning(images))
        {
            if (clock.Elapsed > limit) return false;
            await tick.WaitForNextTickAsync().ConfigureAwait(false);
        }
        return true;
    }

    private static bool DumpRunning(string images)
    {
        foreach (var proc in Directory.EnumerateDirectories("/proc"))
        {
            if (!uint.TryParse(Path.GetFileName(proc), out _)) continue;
            try
            {
                var args = File.ReadAllText(Path.Combine(proc, "cmdline")).Split('\0');
                if (args.Contains("checkpoint") && args.Contains(images)) return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone while looked at.
            }
        }
        return false;
    }

    private void Recovering()
    {
        Receive<Forgotten>(_ => Context.Stop(Self));
        Receive<Lost>(l =>
        {
            if (l.Record is { } r) Adopt(r);
            Finish(new ProcessMigrationFailed(_id, Pid, _self, "resume", l.Reason, false,
                $"the node was restarted during the migration; what is left stays in {_dir}"));
        });
        // The target is told to drop what it got (once this node sees it up again), then the migration ends.
        Receive<Untouched>(u =>
        {
            Adopt(u.Record);
            var untouched = new ProcessMigrationFailed(_id, Pid, _self, "dump", "the node was restarted before the dump ended the process", false,
                $"pid {Pid} runs on, untouched");
            var dir = _dir;
            Task.Run(() => Directory.Delete(dir, recursive: true)).PipeTo(Self, success: () => Forgotten.Instance,
                failure: e => new Ended(untouched with { Outcome = $"{untouched.Outcome}; {dir} could not be removed: {e.GetBaseException().Message}" }));
            Become(() =>
            {
                Receive<Forgotten>(_ => FindTarget(member =>
                {
                    Context.ActorSelection(new RootActorPath(member.Address) / "user" / MigrationsActor.Name).Tell(new CriuAbortTarget(_id, Pid));
                    Timers.StartSingleTimer("step", new StepTimedOut(_settings.RequestTimeout), _settings.RequestTimeout);
                }, () => Finish(untouched)));
                Receive<TargetLookup>(Look);
                Receive<CriuTargetAborted>(_ => Finish(untouched));
                Receive<StepTimedOut>(_ => Finish(untouched));
                Receive<Ended>(e => Finish(e.Outcome));
            });
        });
        // The dump is whole and the process ended: the target receives the image again, from its first byte.
        Receive<Dumped>(d =>
        {
            Adopt(d.Record!);
            _files = d.Files;
            _bytesTotal = d.Files.Sum(f => f.Size);
            Become(Reconnecting);
            FindTarget(member =>
            {
                _targetName = NodeActor.NameOf(member);
                Context.ActorSelection(new RootActorPath(member.Address) / "user" / MigrationsActor.Name)
                    .Tell(new CriuTargetCheck(_id, _self, _source!, _record!.UnderKernel), Self);
                Timers.StartSingleTimer("step", new StepTimedOut(_settings.RequestTimeout), _settings.RequestTimeout);
            }, () => StartRollBack(new RollBack("transfer", $"node {_request.To} was not up within {_settings.RequestTimeout.TotalSeconds:F0} s of this node's restart", _request.To)));
        });
        // Asked to restore before the node was killed: only the target knows whether the process runs there.
        Receive<CriuMigrationRecord>(r =>
        {
            Adopt(r);
            _targetName = r.To;
            Become(AskingAfterRestart);
            FindTarget(member =>
            {
                _targetName = NodeActor.NameOf(member);
                Unsure($"node {_self} was restarted while node {_targetName} restored the process", member);
            }, () => Unsure($"node {_request.To} was not up within {_settings.RequestTimeout.TotalSeconds:F0} s of this node's restart", null));
        });
    }

    private void Adopt(CriuMigrationRecord record)
    {
        _record = record;
        _source = record.Source;
        _request = new MigrateProcessRequest(record.Source.Pid, record.From, record.To);
        _targetName = record.To;
        _kernel = record.UnderKernel ? _settings.Kernel : null;
        _dumpStartedAt = _transferStartedAt = _clock.Elapsed.TotalSeconds;
    }

    private void Reconnecting()
    {
        Receive<CriuTargetReady>(_ =>
        {
            Timers.Cancel("step");
            _target = Sender;
            Context.Watch(_target);
            Become(Sending);
            ReadNext();
        });
        Receive<TargetFailed>(f => StartRollBack(new RollBack(f.Step, f.Reason, f.Node)));
        Receive<StepTimedOut>(t => StartRollBack(new RollBack("transfer", $"node {_targetName} did not answer within {t.After.TotalSeconds:F0} s", _targetName)));
        Receive<TargetLookup>(Look);
    }

    private void AskingAfterRestart() => Receive<TargetLookup>(Look);

    /// <summary>
    /// The target among the members as this restarted node sees them: looked for until the request timeout has passed
    /// since this node is up again (its own rejoin does not count), and at most until the restore timeout.
    /// </summary>
    private void FindTarget(Action<Member> found, Action? absent = null)
    {
        _lookup = (found, absent, null, _clock.Elapsed + _settings.RestoreTimeout);
        Self.Tell(TargetLookup.Instance);
    }

    private void Look(TargetLookup _)
    {
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        var to = _request.To;
        var member = cluster.State.Members.FirstOrDefault(m => m.Status == MemberStatus.Up && m.Address != cluster.SelfAddress && NodeActor.Named(m, to));
        if (member is not null)
        {
            _lookup.Found(member);
            return;
        }
        if (_lookup.Until is null && cluster.SelfMember.Status == MemberStatus.Up) _lookup.Until = _clock.Elapsed + _settings.RequestTimeout;
        if (_clock.Elapsed < (_lookup.Until ?? _lookup.Cap) && _clock.Elapsed < _lookup.Cap)
            Timers.StartSingleTimer("lookup", TargetLookup.Instance, TimeSpan.FromMilliseconds(250));
        else _lookup.Absent?.Invoke();
    }
}
