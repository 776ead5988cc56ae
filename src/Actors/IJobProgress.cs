using Akka.Actor;

namespace Gpuckpt.Actors;

/// <summary>What a job publishes on the event stream while it runs (progress views listen).</summary>
public interface IJobProgress;
