using System.Runtime.CompilerServices;

namespace Gpuckpt.Tests.Support;

/// <summary>
/// Seeds of specs that draw fresh random data each run. tests/run draws one seed per run and passes it in
/// GPUCKPT_SEED; each spec derives its own from it and its name, so the run seed that tests/run prints beside a
/// failure replays it exactly (GPUCKPT_SEED=N bash tests/run --filter ...). Without GPUCKPT_SEED every call is fresh.
/// </summary>
public static class TestSeed
{
    public const string Variable = "GPUCKPT_SEED";

    public static int Fresh([CallerFilePath] string file = "", [CallerMemberName] string test = "")
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable(Variable), out var run)) return Random.Shared.Next();
        var hash = 14695981039346656037UL;
        foreach (var c in Path.GetFileNameWithoutExtension(file) + "." + test) hash = (hash ^ c) * 1099511628211UL;
        return (int)(Mix((ulong)run ^ hash) & int.MaxValue);
    }

    private static ulong Mix(ulong x)
    {
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9UL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebUL;
        return x ^ (x >> 31);
    }
}
