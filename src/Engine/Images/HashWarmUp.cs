using System.Diagnostics;
using System.Runtime;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// Runs the hashes every byte of an image goes through (the leaves of <see cref="FileDigest"/> and the segment's
/// <see cref="SegmentHash"/>) over one chunk of scratch bytes, round after round, until the runtime has put their
/// optimised code in place. The resident engine does this before it says it is serving, and a cluster node before it
/// says it is up. The published build carries precompiled code for most of the engine, but not for BLAKE3's 512-bit
/// vector code: the runtime compiles that on first use without optimisation, and replaces it only once the method has
/// been called often after start-up has settled. Without the warm-up, an engine's first large checkpoint hashed its
/// first gigabytes with that code and spent twice the CPU of the next one.
/// </summary>
public static class HashWarmUp
{
    /// <summary>The bytes hashed per round: one chunk of the default copy.</summary>
    public const int RoundBytes = 4 << 20;

    /// <summary>How long the runtime must compile nothing, while the rounds go on, for the warm-up to end.</summary>
    public static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    /// <summary>The longest a warm-up runs, however busy the runtime stays.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Hashes until no method has been compiled for <paramref name="quiet"/> (the optimised versions have replaced the
    /// first ones) or <paramref name="limit"/> has passed, whichever comes first; at least one round either way.
    /// </summary>
    public static WarmUpResult Run(TimeSpan quiet, TimeSpan limit)
    {
        var bytes = GC.AllocateUninitializedArray<byte>(RoundBytes);
        new Random(1).NextBytes(bytes);
        var clock = Stopwatch.StartNew();
        var compiled = JitInfo.GetCompiledMethodCount();
        var lastCompile = TimeSpan.Zero;
        var rounds = 0;
        ulong sink = 0;
        while (true)
        {
            sink ^= SegmentHash.Of(bytes) ^ FileDigest.Leaves(bytes, LeafHash.Current)[0];
            rounds++;
            var now = JitInfo.GetCompiledMethodCount();
            if (now != compiled)
            {
                compiled = now;
                lastCompile = clock.Elapsed;
            }
            if (clock.Elapsed - lastCompile >= quiet) return new WarmUpResult(rounds, clock.Elapsed, Settled: true, sink);
            if (clock.Elapsed >= limit) return new WarmUpResult(rounds, clock.Elapsed, Settled: false, sink);
        }
    }

    /// <param name="Settled">the runtime went quiet before the limit</param>
    /// <param name="Sink">what the rounds computed, kept so that no round can be left out</param>
    public readonly record struct WarmUpResult(int Rounds, TimeSpan Took, bool Settled, ulong Sink);
}
