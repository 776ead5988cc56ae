namespace Gpuckpt.Load;

/// <summary>What `gpuckpt-load all` runs: the gpuckpt, the size of train and serve (the goals are set at 1 GiB), counted runs per measure, the large image's spec (null: none), the BOs of many-bos, where the Markdown table goes.</summary>
public sealed record AllBenchSettings(string? Gpuckpt, ulong Size, int Runs, int MigrationRuns, string? BigSpec, int Bos, string? Markdown);
