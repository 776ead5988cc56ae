using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Transfer;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// The frames of the image: where the target's sender sends them (its node's data port, admitted by a token, or
/// remoting), and each one decoded, checked and written as a task, then acknowledged.
/// </summary>
public sealed partial class MigrationTarget
{
    /// <summary>
    /// The copy exists: frames may come. With a data port on this node they come over it, admitted by a token of this
    /// incarnation's for this sender (a restarted target, or a new sender after the source's engine restarted, gets a
    /// new one; a sender that asks again gets the same); acknowledgements still go back through remoting.
    /// </summary>
    private ImageBegun Begun(IActorRef sender)
    {
        if (_settings.Listener is not { } listener) return new ImageBegun(_migrationId);
        if (_dataToken is null || !sender.Equals(_dataSender))
        {
            if (_dataToken is not null) listener.Unregister(_dataToken);
            _dataToken = listener.Register(Self, sender);
            _dataSender = sender;
        }
        return new ImageBegun(_migrationId, listener.AdvertisedPort, _dataToken);
    }

    /// <summary>A frame is decoded, checked and written as a task; one that came over the data link goes back to the pool after.</summary>
    private void Frame(byte[] bytes, bool pooled)
    {
        CrashPoints.Hit("target-frame");
        var sender = Sender;
        var receiver = _receiver;
        var (migrationId, node) = (_migrationId, _node);
        if (receiver is null || _sealed)
        {
            // Before the copy exists or after it is sealed a frame is not written; a sealed copy already holds it.
            if (_sealed) sender.Tell(new FrameAck(TransferFrame.PeekSeq(bytes)));
            if (pooled) FramePool.Shared.Return(bytes);
            return;
        }
        Task.Run(() =>
        {
            try
            {
                var frame = TransferFrame.Decode(bytes, out var payload);
                if (frame.Check) return receiver.Holds(frame) ? (object)new FrameAck(frame.Seq) : new FrameMissing(frame.Seq);
                receiver.Write(frame, payload.Span);
                return (object)new FrameAck(frame.Seq);
            }
            catch (IOException e) when (RetryPolicy.ErrorNumber(e) == Errno.ENOSPC)
            {
                // Sending the frame again cannot help: the migration must roll back now.
                return new TargetFailed(migrationId, node, "write image", $"{Errno.Name(Errno.ENOSPC)}: the copy of the image does not fit on node {node}: {e.Message}");
            }
            catch (Exception e) when (e is InvalidDataException or ImageException or IOException)
            {
                return new FrameRejected(TransferFrame.PeekSeq(bytes), e.Message);
            }
            finally
            {
                if (pooled) FramePool.Shared.Return(bytes);
            }
        }).PipeTo(sender);
    }
}
