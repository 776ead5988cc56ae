using System.Runtime.InteropServices;
using Gpuckpt.Engine.Simulation.Memory;

namespace Gpuckpt.Engine.Simulation.Workloads;

/// <summary>Seeded pseudo-random BO contents (a counter-mode splitmix: any window can be filled alone).</summary>
internal static class ContentFill
{
    private const int Window = 64 << 20;

    public static void Fill(SimBuffer buffer, ulong seed)
    {
        for (ulong at = 0; at < buffer.Size; at += Window)
        {
            var bytes = buffer.Bytes(at, (int)Math.Min(Window, buffer.Size - at));
            var words = MemoryMarshal.Cast<byte, ulong>(bytes);
            var index = at / 8;
            for (var i = 0; i < words.Length; i++)
                words[i] = SimTopology.Mix64(seed + (index + (ulong)i) * 0x9e3779b97f4a7c15UL);
            for (var i = words.Length * 8; i < bytes.Length; i++)
                bytes[i] = (byte)(SimTopology.Mix64(seed ^ (at + (ulong)i)) | 1);
        }
    }

    public static void Fill(Span<byte> bytes, ulong seed)
    {
        for (var i = 0; i < bytes.Length; i++)
            bytes[i] = (byte)SimTopology.Mix64(seed + (ulong)i * 0x9e3779b97f4a7c15UL);
    }
}
