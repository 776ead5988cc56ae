namespace Gpuckpt.Actors.Copy;

/// <summary>Several holds taken together for one I/O task: all of them, or none when any is already let go.</summary>
internal static class Holds
{
    public static IDisposable? All(params IDisposable?[] holds)
    {
        if (Array.TrueForAll(holds, h => h is not null)) return new Together(holds!);
        foreach (var hold in holds) hold?.Dispose();
        return null;
    }

    private sealed class Together(IDisposable[] holds) : IDisposable
    {
        public void Dispose()
        {
            foreach (var hold in holds) hold.Dispose();
        }
    }
}
