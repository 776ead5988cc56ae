using Gpuckpt.Engine.Transfer;
using Xunit;

namespace Gpuckpt.Engine.Tests.Transfer;

/// <summary>The frame pool reuses frame arrays, and whatever a long-lived node moves through it, holds a bounded amount.</summary>
public sealed class FramePoolSpecs
{
    [Fact]
    public void A_returned_frame_array_is_rented_again_at_its_exact_length()
    {
        var pool = new FramePool();
        var frame = pool.Rent((1 << 20) + 68);
        pool.Return(frame);

        Assert.Same(frame, pool.Rent((1 << 20) + 68));
        Assert.NotSame(frame, pool.Rent((1 << 20) + 68));
        Assert.Equal(0, pool.Bytes);
        Assert.Equal((1 << 20) + 67, pool.Rent((1 << 20) + 67).Length);
    }

    [Fact]
    public void Frames_of_every_size_a_migration_of_many_bos_sends_leave_at_most_the_bound_held()
    {
        var pool = new FramePool();
        // The last frame of each BO's piece has the BO's own size: thousands of distinct lengths, and a whole window of
        // full frames returned at once, many times over.
        var random = new Random(5);
        for (var i = 0; i < 5000; i++) pool.Return(new byte[random.Next(FramePool.MinLength, 2 << 20)]);
        for (var round = 0; round < 10; round++)
        {
            var window = Enumerable.Range(0, 100).Select(_ => pool.Rent((1 << 20) + 68)).ToList();
            foreach (var frame in window) pool.Return(frame);
        }

        Assert.InRange(pool.Bytes, 1, FramePool.MaxBytes);
        // The size that came through last is the one kept: a full frame is reused, not allocated anew.
        var full = pool.Rent((1 << 20) + 68);
        pool.Return(full);
        Assert.Same(full, pool.Rent((1 << 20) + 68));
        // Small arrays are never kept.
        var small = new byte[1000];
        pool.Return(small);
        Assert.NotSame(small, pool.Rent(1000));
    }
}
