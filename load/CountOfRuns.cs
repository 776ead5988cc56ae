namespace Gpuckpt.Load;

/// <summary>How a printout names the runs its figures come from.</summary>
public static class CountOfRuns
{
    public static string Describe(int runs) => runs == 1 ? "one run" : $"median of {runs} runs";
}
