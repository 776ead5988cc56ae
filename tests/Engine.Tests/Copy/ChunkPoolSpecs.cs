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

    [Fact]
    public async Task A_buffer_an_io_task_still_holds_goes_to_no_other_renter_until_the_task_lets_go()
    {
        using var pool = new ChunkPool(4096, 1);
        var lease = await pool.RentAsync();
        var task = lease.Hold()!;
        lease.Dispose();
        var next = pool.RentAsync().AsTask();

        // The owner gave it back, but a task still writes into it: a second renter would share its bytes.
        Assert.False(next.IsCompleted);
        Assert.False(lease.Returned);
        task.Dispose();
        task.Dispose();
        using var again = await next.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(lease.Returned);
        Assert.Null(lease.Hold());
        Assert.Equal(0, pool.Free);
    }
}
