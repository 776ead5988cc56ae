using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator.Memory;

namespace Gpuckpt.Simulator.Workloads;

/// <summary>
/// What the process's queues run, kept in its KFD private data so it travels through CHECKPOINT/RESTORE byte-exact:
/// the links, the step counter and the opaque queue/event state. Fixed size for a given program.
/// </summary>
internal sealed class WorkloadProgram(IReadOnlyList<uint> gpus, IReadOnlyList<ProgramLink> links, ulong step, byte[] opaque, uint objects)
{
    private const uint Magic = 0x4d535047; // "GPSM"
    private const uint Version = 1;

    /// <summary>The user gpu ids in the workload's own order (its GPU 0, 1, ...): the digest names GPUs by this index.</summary>
    public IReadOnlyList<uint> Gpus { get; } = gpus;

    public IReadOnlyList<ProgramLink> Links { get; } = links;
    public ulong Step { get; set; } = step;
    public byte[] Opaque { get; } = opaque;

    /// <summary>Queues and events: KFD's num_objects.</summary>
    public uint Objects { get; } = objects;

    public int EncodedSize => 4 + 4 + 8 + 4 + 4 + Gpus.Count * 4 + 4 + Links.Sum(l => RefSize + 4 + l.Inputs.Count * RefSize) + 4 + Opaque.Length;

    private const int RefSize = 4 + 4 + 8;

    public byte[] Encode()
    {
        var stream = new MemoryStream(EncodedSize);
        using (var w = new BinaryWriter(stream))
        {
            void Ref(BoRef r) { w.Write((uint)r.Kind); w.Write(r.UserGpuId); w.Write(r.Key); }
            w.Write(Magic); w.Write(Version); w.Write(Step); w.Write(Objects);
            w.Write((uint)Gpus.Count);
            foreach (var g in Gpus) w.Write(g);
            w.Write((uint)Links.Count);
            foreach (var link in Links)
            {
                Ref(link.Target);
                w.Write((uint)link.Inputs.Count);
                foreach (var input in link.Inputs) Ref(input);
            }
            w.Write((uint)Opaque.Length);
            w.Write(Opaque);
        }
        return stream.ToArray();
    }

    /// <summary>Parses private data handed to RESTORE; EINVAL when it is not ours or is cut short.</summary>
    public static WorkloadProgram Decode(byte[] data)
    {
        using var r = new BinaryReader(new MemoryStream(data, writable: false));
        try
        {
            BoRef Ref()
            {
                var kind = r.ReadUInt32();
                if (kind is not ((uint)BoKind.Kfd or (uint)BoKind.Render))
                    throw new SimError(Errno.EINVAL, $"private data: unknown BO kind {kind} at byte {r.BaseStream.Position - 4}");
                return new BoRef((BoKind)kind, r.ReadUInt32(), r.ReadUInt64());
            }
            if (r.ReadUInt32() != Magic) throw new SimError(Errno.EINVAL, "private data: not a simulated process's queue state (bad magic)");
            var version = r.ReadUInt32();
            if (version != Version) throw new SimError(Errno.EINVAL, $"private data: version {version}, expected {Version}");
            var step = r.ReadUInt64();
            var objects = r.ReadUInt32();
            var gpuCount = r.ReadUInt32();
            if (gpuCount > (uint)data.Length) throw Short(r.BaseStream.Position);
            var gpus = new uint[gpuCount];
            for (var i = 0; i < gpuCount; i++) gpus[i] = r.ReadUInt32();
            var count = r.ReadUInt32();
            if (count > (uint)data.Length) throw Short(r.BaseStream.Position);
            var links = new List<ProgramLink>((int)count);
            for (var i = 0; i < count; i++)
            {
                var target = Ref();
                var n = r.ReadUInt32();
                if (n > (uint)data.Length) throw Short(r.BaseStream.Position);
                var inputs = new BoRef[n];
                for (var j = 0; j < n; j++) inputs[j] = Ref();
                links.Add(new ProgramLink(target, inputs));
            }
            var opaqueLength = r.ReadUInt32();
            var at = r.BaseStream.Position;
            if (opaqueLength != data.Length - at)
                throw new SimError(Errno.EINVAL, $"private data: {data.Length} bytes, the queue state says {at + opaqueLength}");
            return new WorkloadProgram(gpus, links, step, r.ReadBytes((int)opaqueLength), objects);
        }
        catch (EndOfStreamException)
        {
            throw Short(r.BaseStream.Position);
        }
    }

    private static SimError Short(long at) => new(Errno.EINVAL, $"private data: cut short at byte {at}");
}
