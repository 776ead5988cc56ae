namespace Gpuckpt.Load.Scenarios;

/// <summary>A step that did not do what it should: <paramref name="Kind"/> groups it in the report's errors.</summary>
public sealed class LoadError(string kind, string message) : Exception(message)
{
    public string Kind { get; } = kind;

    /// <summary>The kind an exception is counted under.</summary>
    public static string KindOf(Exception e) => e switch
    {
        LoadError l => l.Kind,
        TimeoutException or Akka.Actor.AskTimeoutException or OperationCanceledException => "timeout",
        AggregateException { InnerExceptions.Count: 1 } a => KindOf(a.InnerException!),
        _ => e.GetType().Name,
    };
}
