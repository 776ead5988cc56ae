namespace Gpuckpt.Load.Scenarios;

/// <summary>A step failed (and was counted there); the iteration counts it under the same kind.</summary>
public sealed class StepFailed(string step, Exception inner) : Exception($"{step}: {inner.Message}", inner)
{
    public string Step { get; } = step;
    public string Kind => LoadError.KindOf(InnerException!);
}
