using Akka.Actor;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Actors.Checkpoint;

// Results of the supervisor's own tasks: they carry live driver objects and never leave the process.
internal sealed record Paused(IKfdFile Kfd, KfdProcessInfo Info, ImageWriter Writer) : INoSerializationVerificationNeeded, IDisposable
{
    /// <summary>A pause that arrives after its step was given up on closes what it opened.</summary>
    public void Dispose()
    {
        Writer.Dispose();
        Kfd.Dispose();
    }
}

/// <param name="Remaining">Per device, the indexes of the chunks still to copy (those not adopted from before a crash).</param>
internal sealed record Captured(CapturedProcess Process, IReadOnlyDictionary<string, PageFile[]> Files, IReadOnlyDictionary<string, IReadOnlyList<int>> Remaining) : INoSerializationVerificationNeeded;

internal sealed record Committed(ImageCommitted Event) : INoSerializationVerificationNeeded;

internal sealed record Aborted(string? Problem) : INoSerializationVerificationNeeded;

internal sealed record UnpauseDone(bool TookEffect) : INoSerializationVerificationNeeded;
