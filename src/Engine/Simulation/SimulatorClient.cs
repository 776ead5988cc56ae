using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Native;
using Gpuckpt.Engine.Simulation.Protocol;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Simulation;

/// <summary>
/// The engine's side of the simulated driver's Unix socket: an <see cref="IGpuDriver"/> plus the sim-only calls
/// (spawn, run, state, faults, kill). One connection, one request at a time (thread-safe); fds it receives are
/// numbered in this connection's table. BO contents are mapped straight from the simulator's memory files.
/// </summary>
public sealed class SimulatorClient : IGpuDriver
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly object _gate = new();
    private volatile CopyRendezvous? _rendezvous;

    [ThreadStatic] private static string? _lastErrorDetail;

    private SimulatorClient(string socketPath, Socket socket)
    {
        SocketPath = socketPath;
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    public string SocketPath { get; }
    public string Name => $"sim:{SocketPath}";

    /// <summary>Why the last ioctl-style call on this thread failed (the simulator's reason; errno alone travels in the return value).</summary>
    public static string? LastErrorDetail => _lastErrorDetail;

    /// <summary>How long one call may wait for its answer: $GPUCKPT_SIM_TIMEOUT seconds, else 120.</summary>
    public static TimeSpan DefaultTimeout =>
        double.TryParse(Environment.GetEnvironmentVariable("GPUCKPT_SIM_TIMEOUT"), System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0
            ? TimeSpan.FromSeconds(s)
            : TimeSpan.FromMinutes(2);

    /// <summary>The longest a call waits for its answer; then it fails with ETIMEDOUT and the connection is closed.</summary>
    public TimeSpan Timeout { get; private init; }

    public static SimulatorClient Connect(string socketPath) => Connect(socketPath, DefaultTimeout);

    public static SimulatorClient Connect(string socketPath, TimeSpan timeout)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
        {
            ReceiveTimeout = (int)Math.Clamp(timeout.TotalMilliseconds, 1, int.MaxValue),
            SendTimeout = (int)Math.Clamp(timeout.TotalMilliseconds, 1, int.MaxValue),
        };
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new DriverException(e.SocketErrorCode == SocketError.AddressNotAvailable ? Errno.ENOENT : Errno.ENODEV,
                "connect", $"sim:{socketPath}", detail: $"no simulator answers there ({e.Message})");
        }
        return new SimulatorClient(socketPath, socket) { Timeout = timeout };
    }

    // ---- transport -------------------------------------------------------------------------------------------

    /// <summary>Sends one request and returns errno and the reply payload.</summary>
    internal (int Errno, WireReader Reply) Call(SimOpcode op, WireWriter request)
    {
        (uint Head, byte[] Payload)? frame;
        lock (_gate)
        {
            try
            {
                Frames.Write(_stream, (uint)op, request.Written);
                frame = Frames.Read(_stream);
            }
            catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.TimedOut })
            {
                // The answer may still come later and would be taken for the next call's: this connection is done.
                _stream.Dispose();
                throw new DriverException(Errno.ETIMEDOUT, op.ToString(), Name,
                    detail: $"no answer from the simulator within {Timeout.TotalSeconds:0.#} s (a hung simulator, or a socket that is not one); connection closed");
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                throw new DriverException(Errno.EIO, op.ToString(), Name, detail: $"simulator connection lost: {e.Message}");
            }
        }
        if (frame is null) throw new DriverException(Errno.EIO, op.ToString(), Name, detail: "simulator closed the connection");
        var errno = unchecked((int)frame.Value.Head);
        var reply = new WireReader(frame.Value.Payload);
        _lastErrorDetail = errno == 0 ? null : reply.String();
        return (errno, errno == 0 ? reply : new WireReader([]));
    }

    /// <summary>A control call: throws <see cref="DriverException"/> with the errno and the simulator's reason.</summary>
    internal WireReader Control(SimOpcode op, WireWriter request, string? bo = null)
    {
        var (errno, reply) = Call(op, request);
        if (errno != 0) throw new DriverException(errno, op.ToString(), Name, bo, _lastErrorDetail);
        return reply;
    }

    /// <summary>A render-node ioctl: the struct and the array it points to go over, their updated bytes come back.</summary>
    internal int RenderIoctl<T>(int fd, uint request, ref T args, Span<byte> array) where T : unmanaged
    {
        var (errno, reply) = Call(SimOpcode.RenderIoctl,
            new WireWriter().I32(fd).U32(request).Blob(MemoryMarshal.AsBytes(new Span<T>(ref args))).Blob(array));
        if (errno != 0) return errno;
        CopyBack(reply.Blob(), MemoryMarshal.AsBytes(new Span<T>(ref args)));
        CopyBack(reply.Blob(), array);
        return 0;
    }

    internal int KfdIoctl<T>(uint pid, uint request, ref T args, Span<byte> devices, Span<byte> bos, Span<byte> priv) where T : unmanaged
    {
        var (errno, reply) = Call(SimOpcode.KfdIoctl,
            new WireWriter().U32(pid).U32(request).Blob(MemoryMarshal.AsBytes(new Span<T>(ref args))).Blob(devices).Blob(bos).Blob(priv));
        if (errno != 0) return errno;
        CopyBack(reply.Blob(), MemoryMarshal.AsBytes(new Span<T>(ref args)));
        if (request == KfdIoctls.GetVersion) return 0;
        CopyBack(reply.Blob(), devices);
        CopyBack(reply.Blob(), bos);
        CopyBack(reply.Blob(), priv);
        return 0;
    }

    /// <summary>A render-node ioctl as raw bytes (an emulated kernel forwards what a process passed): errno, then the bytes back.</summary>
    internal (int Errno, byte[] Args, byte[] Array) RawRenderIoctl(int fd, uint request, byte[] args, byte[] array)
    {
        var (errno, reply) = Call(SimOpcode.RenderIoctl, new WireWriter().I32(fd).U32(request).Blob(args).Blob(array));
        return errno != 0 ? (errno, args, array) : (0, reply.Blob(), reply.Blob());
    }

    /// <summary>A KFD CRIU op as raw bytes, on process <paramref name="pid"/>'s KFD file.</summary>
    internal (int Errno, byte[] Args, byte[] Devices, byte[] Bos, byte[] Priv) RawKfdIoctl(uint pid, uint request, byte[] args, byte[] devices, byte[] bos, byte[] priv)
    {
        var (errno, reply) = Call(SimOpcode.KfdIoctl, new WireWriter().U32(pid).U32(request).Blob(args).Blob(devices).Blob(bos).Blob(priv));
        return errno != 0 ? (errno, args, devices, bos, priv) : (0, reply.Blob(), reply.Blob(), reply.Blob(), reply.Blob());
    }

    private static void CopyBack(byte[] from, Span<byte> to)
    {
        if (from.Length != to.Length) throw new InvalidDataException($"simulator replied {from.Length} bytes for a {to.Length}-byte buffer");
        from.CopyTo(to);
    }

    // ---- IGpuDriver ----------------------------------------------------------------------------------------------

    public IReadOnlyList<GpuNode> Topology() => Machine().Gpus;

    public IReadOnlyList<CpuNode> CpuNodes() => Machine().Cpus;

    private GpuTopology Machine()
    {
        var json = Control(SimOpcode.Topology, new WireWriter()).String();
        return JsonSerializer.Deserialize<GpuTopology>(json, GpuNode.Json) ?? throw new InvalidDataException("empty topology");
    }

    public IKfdFile OpenKfd(uint pid)
    {
        Control(SimOpcode.OpenKfd, new WireWriter().U32(pid), $"pid {pid}");
        return new SimKfdFile(this, pid);
    }

    public uint CreateRestoreTarget() => Control(SimOpcode.CreateRestoreTarget, new WireWriter()).U32();

    public uint CreateRestoreTarget(string tag) => Control(SimOpcode.CreateRestoreTarget, new WireWriter().String(tag)).U32();

    public IReadOnlyList<uint> RestoreTargetsTagged(string tag)
    {
        var r = Control(SimOpcode.RestoreTargets, new WireWriter().String(tag));
        var pids = new uint[r.U32()];
        for (var i = 0; i < pids.Length; i++) pids[i] = r.U32();
        return pids;
    }

    /// <summary>A failed restore's target goes away with everything it holds, as a killed process would.</summary>
    public void DiscardRestoreTarget(uint pid) => Kill(pid);

    public IReadOnlyList<uint> RenderMinorsOpenedBy(uint pid)
    {
        var r = Control(SimOpcode.RenderMinors, new WireWriter().U32(pid), $"pid {pid}");
        var n = r.U32();
        var minors = new uint[n];
        for (var i = 0; i < n; i++) minors[i] = r.U32();
        return minors;
    }

    public IRenderNode OpenRenderNode(uint pid, uint minor)
    {
        var fd = Control(SimOpcode.OpenRender, new WireWriter().U32(pid).U32(minor), $"pid {pid} renderD{minor}").I32();
        return new SimRenderNode(this, minor, fd);
    }

    public IBoMapping MapBo(uint renderMinor, ulong mmapOffset, ulong size, bool writable)
    {
        var r = Control(SimOpcode.MapInfo, new WireWriter().U32(renderMinor).U64(mmapOffset).U64(size), $"renderD{renderMinor} offset 0x{mmapOffset:x}");
        var path = r.String();
        var micros = r.U32();
        IBoMapping mapping = MmapBoMapping.Map(path, mmapOffset, size, writable);
        if (micros != 0) mapping = new SlowBoMapping(mapping, micros);
        return _rendezvous is { } meet && meet.Gates(renderMinor) ? new RendezvousBoMapping(mapping, meet, renderMinor) : mapping;
    }

    public ulong DmabufInode(int fd) => Control(SimOpcode.DmabufInode, new WireWriter().I32(fd), $"fd {fd}").U64();

    public void CloseFd(int fd) => Control(SimOpcode.CloseFd, new WireWriter().I32(fd), $"fd {fd}");

    public ulong[] DmabufInodes(IReadOnlyList<int> fds)
    {
        if (fds.Count == 0) return [];
        var request = new WireWriter().U32((uint)fds.Count);
        foreach (var fd in fds) request.I32(fd);
        var r = Control(SimOpcode.DmabufInodes, request, $"{fds.Count} fds");
        var inodes = new ulong[r.U32()];
        if (inodes.Length != fds.Count) throw new InvalidDataException($"simulator answered {inodes.Length} inodes for {fds.Count} fds");
        for (var i = 0; i < inodes.Length; i++) inodes[i] = r.U64();
        return inodes;
    }

    public void CloseFds(IReadOnlyList<int> fds)
    {
        if (fds.Count == 0) return;
        var request = new WireWriter().U32((uint)fds.Count);
        foreach (var fd in fds) request.I32(fd);
        Control(SimOpcode.CloseFds, request, $"{fds.Count} fds");
    }

    // ---- simulator-only calls --------------------------------------------------------------------------------------

    /// <summary>Starts a simulated GPU process running <paramref name="request"/>'s workload; its pid.</summary>
    public uint Spawn(WorkloadRequest request) =>
        Control(SimOpcode.Spawn, new WireWriter().String(JsonSerializer.Serialize(request, RequestHandler.Json))).U32();

    /// <summary>Advances the workload <paramref name="steps"/> steps (EBUSY while paused or not resumed); the new step count.</summary>
    public ulong Run(uint pid, ulong steps) => Control(SimOpcode.Run, new WireWriter().U32(pid).U64(steps), $"pid {pid}").U64();

    public SimProcessState State(uint pid) =>
        JsonSerializer.Deserialize<SimProcessState>(Control(SimOpcode.State, new WireWriter().U32(pid), $"pid {pid}").String(), RequestHandler.Json)
        ?? throw new InvalidDataException("empty state");

    /// <summary>Fails the next <see cref="SimFault.Count"/> calls of an op (pid 0: of any process) with an errno; Count 0 disarms.</summary>
    public void InjectFault(SimFault fault) => Control(SimOpcode.Fault, new WireWriter().String(JsonSerializer.Serialize(fault, RequestHandler.Json)));

    /// <summary>Makes every MiB read or written through mappings of this GPU's BOs take <paramref name="microsPerMiB"/> µs.</summary>
    public void SetCopyDelay(uint gpuId, uint microsPerMiB) => Control(SimOpcode.CopyDelay, new WireWriter().U32(gpuId).U32(microsPerMiB));

    /// <summary>Reads through mappings made from now on meet at <paramref name="rendezvous"/> (tests of overlapping copies).</summary>
    public void MeetCopiesAt(CopyRendezvous rendezvous) => _rendezvous = rendezvous;

    void IGpuDriver.KillProcess(uint pid) => Kill(pid);

    /// <summary>The process dies: it vanishes and later calls on it give ESRCH.</summary>
    public void Kill(uint pid) => Control(SimOpcode.Kill, new WireWriter().U32(pid), $"pid {pid}");

    public void Dispose() => _stream.Dispose();
}

/// <summary>A process's /dev/kfd as the simulator serves it.</summary>
internal sealed class SimKfdFile(SimulatorClient client, uint pid) : IKfdFile
{
    public uint Pid { get; } = pid;

    public int GetVersion(ref KfdIoctlGetVersionArgs args) =>
        client.KfdIoctl(Pid, KfdIoctls.GetVersion, ref args, [], [], []);

    public int CriuOp(ref KfdIoctlCriuArgs args, Span<KfdCriuDeviceBucket> devices, Span<KfdCriuBoBucket> bos, Span<byte> privData) =>
        client.KfdIoctl(Pid, KfdIoctls.CriuOp, ref args, MemoryMarshal.AsBytes(devices), MemoryMarshal.AsBytes(bos), privData);

    public void Dispose() { }
}

/// <summary>A process's render node as the simulator serves it; Dispose closes the fd.</summary>
internal sealed class SimRenderNode(SimulatorClient client, uint minor, int fd) : IRenderNode
{
    private int _closed;

    public uint Minor { get; } = minor;
    public int Fd { get; } = fd;

    public int GemCreate(ref DrmAmdgpuGemCreate args) => client.RenderIoctl(Fd, DrmIoctls.AmdgpuGemCreate, ref args, []);
    public int GemClose(ref DrmGemClose args) => client.RenderIoctl(Fd, DrmIoctls.GemClose, ref args, []);
    public int GemMmap(ref DrmAmdgpuGemMmap args) => client.RenderIoctl(Fd, DrmIoctls.AmdgpuGemMmap, ref args, []);
    public int GemVa(ref DrmAmdgpuGemVa args) => client.RenderIoctl(Fd, DrmIoctls.AmdgpuGemVa, ref args, []);
    public int GemChangeHandle(ref DrmGemChangeHandle args) => client.RenderIoctl(Fd, DrmIoctls.GemChangeHandle, ref args, []);
    public int PrimeHandleToFd(ref DrmPrimeHandle args) => client.RenderIoctl(Fd, DrmIoctls.PrimeHandleToFd, ref args, []);
    public int PrimeFdToHandle(ref DrmPrimeHandle args) => client.RenderIoctl(Fd, DrmIoctls.PrimeFdToHandle, ref args, []);

    public int GemListHandles(ref DrmAmdgpuGemListHandles args, Span<DrmAmdgpuGemListHandlesEntry> entries) =>
        args.num_entries > entries.Length ? Errno.EINVAL : client.RenderIoctl(Fd, DrmIoctls.AmdgpuGemListHandles, ref args, MemoryMarshal.AsBytes(entries[..(int)args.num_entries]));

    public int GemMappingInfo(ref DrmAmdgpuGemOp args, Span<DrmAmdgpuGemVmEntry> entries) =>
        args.op != AmdgpuGem.GemOpGetMappingInfo || args.num_entries > entries.Length
            ? Errno.EINVAL
            : client.RenderIoctl(Fd, DrmIoctls.AmdgpuGemOp, ref args, MemoryMarshal.AsBytes(entries[..(int)args.num_entries]));

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        client.CloseFd(Fd);
    }
}

/// <summary>A mapping whose copies take a set time per MiB, as a slow copy engine would (tests of overlapping copies).</summary>
internal sealed class SlowBoMapping(IBoMapping inner, uint microsPerMiB) : IBoMapping
{
    public ulong Size => inner.Size;

    public void Read(ulong offset, Span<byte> destination)
    {
        Delay(destination.Length);
        inner.Read(offset, destination);
    }

    public void Write(ulong offset, ReadOnlySpan<byte> source)
    {
        Delay(source.Length);
        inner.Write(offset, source);
    }

    private void Delay(int bytes)
    {
        var micros = (long)bytes * microsPerMiB / (1 << 20);
        if (micros > 0) Thread.Sleep(TimeSpan.FromMicroseconds(micros));
    }

    public void Dispose() => inner.Dispose();
}
