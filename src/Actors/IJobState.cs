using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;

namespace Gpuckpt.Actors;

/// <summary>What a job's events add up to (also its snapshot).</summary>
public interface IJobState<in TEvent>
{
    /// <summary>The outcome the job finished with, once it has.</summary>
    object? Outcome { get; }

    void Apply(TEvent e);

    /// <summary>A copy to store as a snapshot while the job goes on changing its own.</summary>
    object Snapshot();
}
