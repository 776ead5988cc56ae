using System.Numerics;
using System.Runtime.InteropServices;
using Gpuckpt.Simulator.Memory;

namespace Gpuckpt.Simulator.Workloads;

/// <summary>
/// Seeded pseudo-random BO contents: word i is splitmix64(seed + i * golden), so any window can be filled alone and
/// the result does not depend on the vector width of the machine.
/// </summary>
internal static class ContentFill
{
    private const int Window = 64 << 20;
    private const ulong Golden = 0x9e3779b97f4a7c15UL;

    public static void Fill(SimBuffer buffer, ulong seed)
    {
        for (ulong at = 0; at < buffer.Size; at += Window)
        {
            var bytes = buffer.Bytes(at, (int)Math.Min(Window, buffer.Size - at));
            var words = MemoryMarshal.Cast<byte, ulong>(bytes);
            FillWords(words, seed, at / 8);
            for (var i = words.Length * 8; i < bytes.Length; i++)
                bytes[i] = (byte)(SimTopology.Mix64(seed ^ (at + (ulong)i)) | 1);
        }
    }

    public static void Fill(Span<byte> bytes, ulong seed)
    {
        for (var i = 0; i < bytes.Length; i++)
            bytes[i] = (byte)SimTopology.Mix64(seed + (ulong)i * Golden);
    }

    private static void FillWords(Span<ulong> words, ulong seed, ulong index)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated && words.Length >= Vector<ulong>.Count)
        {
            var lanes = new ulong[Vector<ulong>.Count];
            for (var l = 0; l < lanes.Length; l++) lanes[l] = (ulong)l;
            var lane = new Vector<ulong>(lanes);
            var golden = new Vector<ulong>(Golden);
            var k1 = new Vector<ulong>(0xbf58476d1ce4e5b9UL);
            var k2 = new Vector<ulong>(0x94d049bb133111ebUL);
            var vectors = MemoryMarshal.Cast<ulong, Vector<ulong>>(words);
            for (var v = 0; v < vectors.Length; v++)
            {
                var x = new Vector<ulong>(seed) + (new Vector<ulong>(index + (ulong)(v * Vector<ulong>.Count)) + lane) * golden;
                x = (x ^ Vector.ShiftRightLogical(x, 30)) * k1;
                x = (x ^ Vector.ShiftRightLogical(x, 27)) * k2;
                vectors[v] = x ^ Vector.ShiftRightLogical(x, 31);
            }
            i = vectors.Length * Vector<ulong>.Count;
        }
        for (; i < words.Length; i++)
            words[i] = SimTopology.Mix64(seed + (index + (ulong)i) * Golden);
    }
}
