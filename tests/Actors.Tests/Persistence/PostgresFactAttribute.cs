using Xunit;

namespace Gpuckpt.Actors.Tests.Persistence;

/// <summary>A fact that is skipped, with the reason shown, where no PostgreSQL binaries are installed.</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    private static readonly string? Reason = Announce(PostgresCluster.Unavailable());

    public PostgresFactAttribute()
    {
        if (Reason is not null) Skip = Reason;
    }

    /// <summary>Printed once as well: a skip reason is easy to miss in a passing run.</summary>
    private static string? Announce(string? reason)
    {
        if (reason is not null) Console.Error.WriteLine(reason);
        return reason;
    }
}
