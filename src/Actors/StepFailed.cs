using Akka.Actor;

namespace Gpuckpt.Actors;

/// <summary>A step of a job failed: its task threw, or it timed out and was cancelled.</summary>
public sealed record StepFailed(string Step, Exception Error) : INoSerializationVerificationNeeded;
