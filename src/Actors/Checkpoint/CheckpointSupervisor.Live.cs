using System.Diagnostics;
using Akka.Actor;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Actors.Checkpoint;

/// <summary>
/// A live checkpoint (<see cref="LiveCheckpointRequest"/>): rounds of copying while the process runs, each started by
/// the client, then the last pause, which copies only what was written since the last round began.
/// </summary>
public sealed partial class CheckpointSupervisor
{
    // A live checkpoint's running rounds (none after a restart: the last pause then copies everything), the write clock
    // the current one started from, and each chunk's checksum as last written.
    private int _round = -1;
    private ulong _roundSince;
    private long _roundBytes;
    private bool _awaitingRound;
    private readonly Stopwatch _roundClock = new();
    private readonly Dictionary<string, ulong> _landedSums = [];

    // A snapshot holds neither flag: a live or packing job keeps every event instead.
    protected override bool Snapshots => !_live && !_journalledLive && !_pack && !_journalledPack;

    protected override void Applied(ICheckpointEvent e)
    {
        switch (e)
        {
            case LiveCopyStarted: _journalledLive = true; break;
            case PackedCopyStarted: _journalledPack = true; break;
            case LiveCopyEnded ended: _liveSince = ended.Since; break;
        }
    }

    /// <summary>
    /// A live checkpoint's last pause: the BO list again (it must be laid out as before), the metadata files, and only the
    /// chunks holding a BO written since the last running round began; every other chunk is in the image already.
    /// </summary>
    private void CaptureLast(KfdProcessInfo info, ulong since, Captured earlier)
    {
        var (kfd, writer, driver, chunkSize, pid) = (_kfd!, _writer!, _driver, Started.ChunkSize, Request.Pid);
        BeginPhase("capture");
        RunStep("capture", cancel =>
        {
            var process = CheckpointCapture.Capture(driver, kfd, info, chunkSize);
            try
            {
                if (CheckpointImage.LayoutChange(earlier.Process, process) is { } change)
                    throw new InvalidOperationException($"pid {pid} changed its buffers while it ran ({change}): the live copy cannot be finished");
                CheckpointImage.WriteMessages(writer, process, cancel);
                return new Captured(process, earlier.Files, CheckpointImage.ChunksWrittenSince(driver, process, since).Chunks);
            }
            catch
            {
                process.Dispose();
                throw;
            }
        }, captured =>
        {
            earlier.Process.Dispose();
            _captured = captured;
            if (_interrupt is not null)
            {
                Next();
                return;
            }
            CrashPoints.Hit("captured");
            CopyThenCommit(captured);
        }, Fail);
    }

    /// <summary>
    /// A running round of a live checkpoint: the first copies every chunk, each later one the chunks holding a BO written
    /// since the round before began. Then the client hears how much the process wrote meanwhile, and says what comes next.
    /// </summary>
    private void LiveRound()
    {
        _round++;
        var (captured, driver, since, first) = (_captured!, _driver, _roundSince, _round == 0);
        BeginPhase($"live round {_round}");
        RunStep("live round", _ => first ? (Chunks: captured.Remaining, Clock: since) : CheckpointImage.ChunksWrittenSince(driver, captured.Process, since), plan =>
        {
            _roundSince = plan.Clock;
            _roundBytes = captured.Process.Devices.Sum(d => plan.Chunks[d.Device].Sum(i => (long)d.Chunks[i].Length));
            _roundClock.Restart();
            StartContents(Works(captured, plan.Chunks), Landed, failure =>
            {
                if (_interrupt is not null) Next();
                else if (failure is not null) Fail(new StepFailed("copy", new IOException(failure)));
                else RoundCopied();
            }, _round == 0 ? null : $"r{_round}");
        }, Fail);
    }

    private void RoundCopied()
    {
        var (driver, pid, since, seconds) = (_driver, Request.Pid, _roundSince, _roundClock.Elapsed.TotalSeconds);
        RunStep("live round", _ => driver.WrittenSince(pid, since) is { } dirty ? (long)dirty.Bytes : -1L, dirty =>
        {
            _awaitingRound = true;
            if (_interrupt is not null) Next();
            else ReplyTo.Tell(new LiveRoundCopied(JobId, _round, _roundBytes, seconds, dirty));
        }, Fail);
    }
}
