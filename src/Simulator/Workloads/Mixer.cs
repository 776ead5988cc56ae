using System.Numerics;
using System.Runtime.InteropServices;
using Gpuckpt.Simulator.Memory;

namespace Gpuckpt.Simulator.Workloads;

/// <summary>One workload step on one BO: a vectorised 64-bit mix of its words with each input's words and the step.</summary>
internal static class Mixer
{
    private const ulong K1 = 0x9e3779b97f4a7c15UL, K2 = 0xbf58476d1ce4e5b9UL;
    private const ulong MaxSegmentWords = 1UL << 24; // 128 MiB per span

    public static void Mix(SimBuffer target, IReadOnlyList<SimBuffer> inputs, ulong step, int link)
    {
        var targetWords = target.Size / 8;
        target.WrittenAt = GpuMemory.Tick();
        if (inputs.Count == 0)
        {
            MixWith(target, targetWords, target, SimTopology.Mix64(step * K1 + (ulong)link));
            return;
        }
        for (var j = 0; j < inputs.Count; j++)
            MixWith(target, targetWords, inputs[j], SimTopology.Mix64(step * K1 + ((ulong)link << 20) + (ulong)j));
    }

    private static void MixWith(SimBuffer target, ulong targetWords, SimBuffer input, ulong salt)
    {
        var inputWords = input.Size / 8;
        if (targetWords == 0 || inputWords == 0) return;
        for (ulong i = 0; i < targetWords;)
        {
            // Input words repeat when the input is shorter than the target.
            var pos = i % inputWords;
            var n = Math.Min(Math.Min(targetWords - i, inputWords - pos), MaxSegmentWords);
            var t = MemoryMarshal.Cast<byte, ulong>(target.Bytes(i * 8, (int)(n * 8)));
            var s = MemoryMarshal.Cast<byte, ulong>(input.Bytes(pos * 8, (int)(n * 8)));
            Segment(t, s, salt ^ i);
            i += n;
        }
    }

    private static void Segment(Span<ulong> t, ReadOnlySpan<ulong> s, ulong salt)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated && t.Length >= Vector<ulong>.Count)
        {
            var tv = MemoryMarshal.Cast<ulong, Vector<ulong>>(t);
            var sv = MemoryMarshal.Cast<ulong, Vector<ulong>>(s);
            var k1 = new Vector<ulong>(K1);
            var k2 = new Vector<ulong>(K2);
            var sa = new Vector<ulong>(salt);
            for (var v = 0; v < tv.Length; v++)
            {
                var x = tv[v] ^ (sv[v] * k1) ^ sa;
                x ^= Vector.ShiftRightLogical(x, 31);
                x *= k2;
                tv[v] = x ^ Vector.ShiftRightLogical(x, 29);
            }
            i = tv.Length * Vector<ulong>.Count;
        }
        for (; i < t.Length; i++)
        {
            var x = t[i] ^ (s[i] * K1) ^ salt;
            x ^= x >> 31;
            x *= K2;
            t[i] = x ^ (x >> 29);
        }
    }
}
