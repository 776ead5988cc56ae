using Xunit;

namespace Gpuckpt.Tests.Support;

/// <summary>A fact that needs a real small tmpfs; skipped, with the reason shown, where none can be mounted.</summary>
public sealed class TmpfsFactAttribute : FactAttribute
{
    private static readonly string? Reason = Announce(SmallTmpfs.Unavailable());

    public TmpfsFactAttribute()
    {
        if (Reason is not null) Skip = Reason;
    }

    private static string? Announce(string? reason)
    {
        if (reason is not null) Console.Error.WriteLine(reason);
        return reason;
    }
}
