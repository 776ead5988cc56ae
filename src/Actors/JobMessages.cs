using Akka.Actor;

namespace Gpuckpt.Actors;

/// <summary>Look at the journal and take the next step.</summary>
internal sealed class Continue : INoSerializationVerificationNeeded
{
    public static readonly Continue Instance = new();
    private Continue() { }
}

/// <summary>Journal the progress events queued so far.</summary>
internal sealed class FlushProgress : INoSerializationVerificationNeeded
{
    public static readonly FlushProgress Instance = new();
    private FlushProgress() { }
}

/// <summary>The task of step <paramref name="Id"/> ended with a result or an exception.</summary>
internal sealed record StepDone(long Id, object? Result, Exception? Error) : INoSerializationVerificationNeeded;

/// <summary>Step <paramref name="Id"/> ran past its timeout: cancel it.</summary>
internal sealed record StepTimedOut(long Id) : INoSerializationVerificationNeeded;

/// <summary>A cancelled step <paramref name="Id"/> did not stop within the grace period.</summary>
internal sealed record StepGraceOver(long Id) : INoSerializationVerificationNeeded;
