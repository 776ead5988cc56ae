using Akka.Actor;
using Gpuckpt.Actors.Checkpoint;

namespace Gpuckpt.Actors.Migration;

/// <summary>A live migration (<see cref="MigrateLiveRequest"/>): its checkpoint's rounds, each started once the target holds the last.</summary>
public sealed partial class MigrationCoordinator
{
    // A live migration: the checkpoint job between its rounds, what they copied, and what the last one left to copy.
    private IActorRef? _liveJob;
    private readonly List<LiveRound> _rounds = [];
    private long _liveDirty;
    private long _lastRoundBytes;

    /// <summary>
    /// A running round of a live migration is in the source image: once the target holds all of it (the next round may
    /// write the same places again), the next round starts, or the last one, which pauses the process.
    /// </summary>
    private void RoundCopied(LiveRoundCopied round)
    {
        _liveJob = Sender;
        _rounds.Add(new LiveRound(round.Bytes, round.Seconds));
        _liveDirty = round.DirtyBytes;
        Report($"live round {round.Round + 1}");
        _sender?.Tell(WhenSent.Instance);
    }

    private void NextRound()
    {
        if (_liveJob is null) return;
        // No dirty bits (-1): the last round reads every chunk and sends only those whose bytes changed.
        var last = _liveDirty < 0 || _liveDirty <= _settings.LiveFinalBytes || _rounds.Count >= _settings.LiveMaxRounds
                   || (_rounds.Count > 1 && _liveDirty >= _rounds[^1].Bytes);
        if (last) Become(() => Checkpointing(lastRound: true));
        _liveJob.Tell(new LiveRoundNext(last));
        _liveJob = null;
        Report(last ? "last round (paused)" : $"live round {_rounds.Count + 1}");
    }
}
