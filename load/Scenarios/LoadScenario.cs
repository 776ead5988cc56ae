namespace Gpuckpt.Load.Scenarios;

/// <summary>
/// A scenario: one iteration is <paramref name="Body"/>, which runs its steps through the context (each timed and
/// counted on its own). <paramref name="Steps"/> names them in order, so that a step no iteration reached still shows.
/// <paramref name="NeedsNodes"/>: the iteration runs against two local `gpuckpt node` processes.
/// </summary>
public sealed record LoadScenario(string Name, IReadOnlyList<string> Steps, Func<IterationContext, Task> Body, bool NeedsNodes = false);
