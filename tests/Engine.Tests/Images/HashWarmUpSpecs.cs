using Gpuckpt.Engine.Images;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

/// <summary>
/// The warm-up of the resident engine and of a cluster node (<see cref="HashWarmUp"/>): rounds of an image's hashes
/// over one chunk of scratch bytes, ended by the runtime going quiet or by the limit, whichever comes first. A warm-up
/// that never ended would hold back `gpuckpt serve` from ever saying it serves, and a node from saying it is up.
/// </summary>
public sealed class HashWarmUpSpecs
{
    [Fact]
    public void A_warm_up_whose_runtime_does_not_go_quiet_in_time_ends_at_its_limit_after_whole_rounds()
    {
        var limit = TimeSpan.FromMilliseconds(200);

        var warm = HashWarmUp.Run(quiet: TimeSpan.FromHours(1), limit);

        Assert.False(warm.Settled);
        Assert.True(warm.Took >= limit, $"ended after {warm.Took}, before its limit of {limit}");
        Assert.True(warm.Rounds >= 1);
    }

    [Fact]
    public void A_warm_up_given_no_time_still_hashes_one_chunk_with_both_of_an_images_hashes()
    {
        var scratch = new byte[HashWarmUp.RoundBytes];
        new Random(1).NextBytes(scratch);

        var warm = HashWarmUp.Run(quiet: TimeSpan.FromHours(1), limit: TimeSpan.Zero);

        Assert.Equal(1, warm.Rounds);
        Assert.Equal(SegmentHash.Of(scratch) ^ FileDigest.Leaves(scratch, LeafHash.Current)[0], warm.Sink);
    }
}
