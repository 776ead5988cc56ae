using Gpuckpt.Engine.Copy;
using Xunit;

namespace Gpuckpt.Engine.Tests.Copy;

public class ChunkPoolSpecs
{
    [Fact]
    public async Task A_renter_waits_until_a_buffer_comes_back()
    {
        using var pool = new ChunkPool(4096, 2);
        var a = await pool.RentAsync();
        var b = await pool.RentAsync();
        var third = pool.RentAsync().AsTask();

        // Nothing can hand the third renter a buffer but a returned lease.
        Assert.Equal(0, pool.Free);
        Assert.False(third.IsCompleted);
        a.Dispose();
        var c = await third.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(a.Buffer.Equals(c.Buffer), "the third renter gets the buffer the first gave back");
        Assert.Equal(2, pool.PeakRented);
        b.Dispose();
        c.Dispose();
    }

    [Fact]
    public async Task Disposing_a_lease_twice_returns_it_once()
    {
        using var pool = new ChunkPool(4096, 1);
        var lease = await pool.RentAsync();
        lease.Dispose();
        lease.Dispose();
        using var again = await pool.RentAsync();
        Assert.Equal(0, pool.Free);
        var next = pool.RentAsync().AsTask();
        Assert.False(next.IsCompleted);
    }
}
