namespace Gpuckpt.Load.Scenarios;

/// <summary>BO bytes of the `train` workload in the small scenarios (and migrations) and in the large one.</summary>
public sealed record ScenarioSizes(ulong Small, ulong Large);
