namespace Gpuckpt.Load.Statistics;

/// <summary>How often one kind of error happened, with the first message of that kind.</summary>
public sealed record ErrorCount(string Kind, long Count, string Example);
