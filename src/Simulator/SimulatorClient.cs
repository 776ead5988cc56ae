using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Native;
using Gpuckpt.Simulator.Protocol;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Simulator;

/// <summary>
/// The engine's side of the simulated driver's Unix socket: an <see cref="IGpuDriver"/> plus the sim-only calls
/// (spawn, run, state, faults, kill). One connection, one request at a time (thread-safe); fds it receives are
/// numbered in this connection's table. BO contents are read and written by offset in the simulator's memory files.
/// </summary>
public sealed class SimulatorClient : IGpuDriver
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly object _gate = new();
    private readonly object _send = new();
    private readonly object _read = new();
    private readonly Queue<Answer> _waiting = new();
    private string? _lost;
    private bool _lostByTimeout;
    private volatile CopyRendezvous? _rendezvous;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<BoRange, PreparedMap> _prepared = new();
    private readonly Dictionary<(string Path, bool Writable), MemoryFileHandle> _files = new();

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

    /// <summary>
    /// How long one call may wait for its answer: $GPUCKPT_SIM_TIMEOUT seconds, else <see cref="ConfiguredTimeout"/>; a
    /// value that does not parse is refused.
    /// </summary>
    public static TimeSpan DefaultTimeout =>
        Engine.Settings.EnvironmentValues.Seconds(TimeoutVariable, Environment.GetEnvironmentVariable) ?? ConfiguredTimeout();

    /// <summary>The configured wait for an answer (the gpuckpt executable reads gpuckpt.driver.sim-call-timeout); 120 s unless set.</summary>
    public static Func<TimeSpan> ConfiguredTimeout { get; set; } = () => TimeSpan.FromMinutes(2);

    public const string TimeoutVariable = "GPUCKPT_SIM_TIMEOUT";

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

    /// <summary>
    /// Sends one request and returns errno and the reply payload. Requests of several threads are pipelined: each is
    /// written as soon as its thread has it, and answers come back in the order of the requests (the simulator answers
    /// a connection's requests in turn). One caller at a time reads: it hands each answer to its caller until its own
    /// has come, then passes the reading on to the oldest caller still waiting. A lone caller reads its own answer
    /// directly; many keep the simulator busy without waiting for each caller to wake up.
    /// </summary>
    internal (int Errno, WireReader Reply) Call(SimOpcode op, WireWriter request)
    {
        var answer = new Answer();
        // Writes are ordered by _send, the queue by _gate: a large request being written never keeps the reader from
        // draining the answers the simulator writes meanwhile.
        lock (_send)
        {
            lock (_gate)
            {
                if (_lost is { } lost) throw new DriverException(Errno.EIO, op.ToString(), Name, detail: lost);
                _waiting.Enqueue(answer);
            }
            try
            {
                Frames.Write(_stream, (uint)op, request.Written);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                Lose($"simulator connection lost: {e.Message}");
            }
        }
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (!answer.Done)
        {
            if (Monitor.TryEnter(_read))
            {
                try
                {
                    ReadUntil(answer);
                }
                finally
                {
                    Monitor.Exit(_read);
                }
                lock (_gate)
                {
                    if (_waiting.TryPeek(out var next)) next.Wake.Set();
                }
                continue;
            }
            var left = Timeout - deadline.Elapsed;
            if (left <= TimeSpan.Zero || !answer.Wake.Wait(left))
            {
                Lose($"no answer from the simulator within {Timeout.TotalSeconds:0.#} s", timedOut: true);
                break;
            }
            answer.Wake.Reset();
        }
        if (answer.Frame is not { } frame)
            throw new DriverException(answer.TimedOut ? Errno.ETIMEDOUT : Errno.EIO, op.ToString(), Name, detail: answer.Lost);
        var errno = unchecked((int)frame.Head);
        var reply = new WireReader(frame.Payload);
        _lastErrorDetail = errno == 0 ? null : reply.String();
        return (errno, errno == 0 ? reply : new WireReader([]));
    }

    /// <summary>Reads answers, each for the oldest call waiting, until <paramref name="mine"/> has its own (or the connection is lost).</summary>
    private void ReadUntil(Answer mine)
    {
        while (!mine.Done)
        {
            (uint Head, byte[] Payload)? frame;
            try
            {
                frame = Frames.Read(_stream);
            }
            catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.TimedOut })
            {
                Lose($"no answer from the simulator within {Timeout.TotalSeconds:0.#} s", timedOut: true);
                return;
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidDataException)
            {
                Lose($"simulator connection lost: {e.Message}");
                return;
            }
            if (frame is null)
            {
                Lose("simulator closed the connection");
                return;
            }
            Answer? answer;
            lock (_gate) _waiting.TryDequeue(out answer);
            if (answer is null)
            {
                Lose("the simulator answered a request never made");
                return;
            }
            answer.Frame = frame;
            answer.Done = true;
            answer.Wake.Set();
        }
    }

    /// <summary>
    /// The connection is done: every call waiting, and every later one, fails with <paramref name="why"/>; an answer
    /// that might still come would be taken for another call's.
    /// </summary>
    private void Lose(string why, bool timedOut = false)
    {
        lock (_gate)
        {
            if (_lost is null)
            {
                _lost = why;
                _lostByTimeout = timedOut;
            }
            while (_waiting.TryDequeue(out var answer))
            {
                answer.Lost = _lost + (_lostByTimeout ? " (a hung simulator, or a socket that is not one); connection closed" : "");
                answer.TimedOut = _lostByTimeout;
                answer.Done = true;
                answer.Wake.Set();
            }
        }
        _stream.Dispose();
    }

    /// <summary>One call's answer, handed over by whichever caller reads.</summary>
    private sealed class Answer
    {
        private volatile bool _done;

        public ManualResetEventSlim Wake { get; } = new();
        public bool Done { get => _done; set => _done = value; }
        public (uint Head, byte[] Payload)? Frame { get; set; }
        public string Lost { get; set; } = "simulator connection lost";
        public bool TimedOut { get; set; }
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

    /// <summary>Many render-node ioctls of one file in one round trip: each answered as if called alone.</summary>
    internal void RenderIoctls(int fd, IReadOnlyList<RenderBoQuery> queries)
    {
        var request = new WireWriter().I32(fd).U32((uint)queries.Count * 3);
        foreach (var q in queries)
        {
            request.U32(DrmIoctls.AmdgpuGemOp).Blob(MemoryMarshal.AsBytes(new Span<DrmAmdgpuGemOp>(ref q.MappingInfo))).Blob(MemoryMarshal.AsBytes(q.Mappings.AsSpan()));
            request.U32(DrmIoctls.AmdgpuGemMmap).Blob(MemoryMarshal.AsBytes(new Span<DrmAmdgpuGemMmap>(ref q.Mmap))).Blob([]);
            request.U32(DrmIoctls.PrimeHandleToFd).Blob(MemoryMarshal.AsBytes(new Span<DrmPrimeHandle>(ref q.Prime))).Blob([]);
        }
        var (errno, reply) = Call(SimOpcode.RenderIoctls, request);
        if (errno != 0)
        {
            // The batch itself was refused (a closed fd): every call in it answers so.
            foreach (var q in queries) q.MappingInfoRc = q.MmapRc = q.PrimeRc = errno;
            return;
        }
        if (reply.U32() != queries.Count * 3) throw new InvalidDataException("the simulator answered another number of ioctls than it was sent");
        foreach (var q in queries)
        {
            q.MappingInfoRc = Answer(reply, MemoryMarshal.AsBytes(new Span<DrmAmdgpuGemOp>(ref q.MappingInfo)), MemoryMarshal.AsBytes(q.Mappings.AsSpan()));
            q.MmapRc = Answer(reply, MemoryMarshal.AsBytes(new Span<DrmAmdgpuGemMmap>(ref q.Mmap)), []);
            q.PrimeRc = Answer(reply, MemoryMarshal.AsBytes(new Span<DrmPrimeHandle>(ref q.Prime)), []);
        }

        static int Answer(WireReader reply, Span<byte> args, Span<byte> array)
        {
            var rc = reply.I32();
            if (rc != 0)
            {
                reply.String();
                return rc;
            }
            CopyBack(reply.Blob(), args);
            CopyBack(reply.Blob(), array);
            return 0;
        }
    }

    /// <summary>
    /// Render BOs recreated in one round trip (<see cref="RenderBoCreate"/>): the simulator makes each BO's calls as the
    /// file would one by one, and stops at the first BO whose calls fail.
    /// </summary>
    internal void RenderCreates(int fd, IReadOnlyList<RenderBoCreate> creates)
    {
        var request = new WireWriter().I32(fd).U32((uint)creates.Count);
        foreach (var c in creates)
        {
            request.Blob(MemoryMarshal.AsBytes(new Span<DrmAmdgpuGemCreate>(ref c.Create))).U32(c.Handle).U32((uint)c.Mappings.Length);
            foreach (var va in c.Mappings) request.Blob(MemoryMarshal.AsBytes(new ReadOnlySpan<DrmAmdgpuGemVa>(in va)));
            request.Blob(c.WantsMmap ? MemoryMarshal.AsBytes(new Span<DrmAmdgpuGemMmap>(ref c.Mmap)) : [])
                .Blob(c.WantsPrime ? MemoryMarshal.AsBytes(new Span<DrmPrimeHandle>(ref c.Prime)) : []);
        }
        var (errno, reply) = Call(SimOpcode.RenderCreates, request);
        if (errno != 0)
        {
            // The batch itself was refused (a closed fd): its first call answers so, and nothing after it runs.
            if (creates.Count > 0)
            {
                creates[0].Tried = true;
                creates[0].Answered(RenderBoCreate.CreateCall, errno);
            }
            return;
        }
        if (reply.U32() != creates.Count) throw new InvalidDataException("the simulator answered another number of BOs than it was sent");
        foreach (var c in creates)
        {
            c.Tried = true;
            if (!c.Answered(RenderBoCreate.CreateCall, Answer(reply, MemoryMarshal.AsBytes(new Span<DrmAmdgpuGemCreate>(ref c.Create))))) return;
            c.Created = true;
            if (c.Create.handle != c.Handle && !c.Answered(RenderBoCreate.ChangeCall, Answer(reply, []))) return;
            c.Moved = true;
            for (var i = 0; i < c.Mappings.Length; i++)
                if (!c.Answered(RenderBoCreate.VaCall, Answer(reply, []), i)) return;
            if (c.WantsMmap && !c.Answered(RenderBoCreate.MmapCall, Answer(reply, MemoryMarshal.AsBytes(new Span<DrmAmdgpuGemMmap>(ref c.Mmap))))) return;
            if (c.WantsPrime && !c.Answered(RenderBoCreate.PrimeCall, Answer(reply, MemoryMarshal.AsBytes(new Span<DrmPrimeHandle>(ref c.Prime))))) return;
        }

        static int Answer(WireReader reply, Span<byte> args)
        {
            var rc = reply.I32();
            if (rc != 0)
            {
                reply.String();
                return rc;
            }
            CopyBack(reply.Blob(), args);
            return 0;
        }
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

    /// <summary>Every open render file of the process: a simulated process may hold several files of one node.</summary>
    public IReadOnlyList<RenderFileRef> RenderFilesOpenedBy(uint pid)
    {
        var r = Control(SimOpcode.RenderFiles, new WireWriter().U32(pid), $"pid {pid}");
        var files = new RenderFileRef[r.U32()];
        for (var i = 0; i < files.Length; i++)
        {
            var minor = r.U32();
            files[i] = new RenderFileRef(minor, r.I32());
        }
        return files;
    }

    /// <summary>One of the process's render files; on a restore target, file k of a node opens once files 0 … k-1 are.</summary>
    public IRenderNode OpenRenderFile(uint pid, RenderFileRef file)
    {
        var fd = Control(SimOpcode.OpenRenderFile, new WireWriter().U32(pid).U32(file.Minor).I32(file.Index), $"pid {pid} {file}").I32();
        return new SimRenderNode(this, file.Minor, fd);
    }

    public IRenderNode OpenRenderNode(uint pid, uint minor)
    {
        var fd = Control(SimOpcode.OpenRender, new WireWriter().U32(pid).U32(minor), $"pid {pid} renderD{minor}").I32();
        return new SimRenderNode(this, minor, fd);
    }

    public IBoMapping MapBo(uint renderMinor, ulong mmapOffset, ulong size, bool writable)
    {
        string path;
        uint micros;
        if (_prepared.TryRemove(new BoRange(renderMinor, mmapOffset, size), out var ticket)
            && System.Diagnostics.Stopwatch.GetElapsedTime(ticket.At) <= PreparedFor)
        {
            if (ticket.Errno != 0)
                throw new DriverException(ticket.Errno, nameof(SimOpcode.MapInfo), Name, $"renderD{renderMinor} offset 0x{mmapOffset:x}", ticket.Path);
            (path, micros) = (ticket.Path, ticket.MicrosPerMiB);
        }
        else
        {
            var r = Control(SimOpcode.MapInfo, new WireWriter().U32(renderMinor).U64(mmapOffset).U64(size), $"renderD{renderMinor} offset 0x{mmapOffset:x}");
            path = r.String();
            micros = r.U32();
        }
        // The BO is moved by offset in the memory file, as a copy engine moves it: mapping it instead costs page-table work
        // for every page and, for 100 000 small BOs, a TLB flush and the process's mapping lock each.
        IBoMapping mapping = new FileBoMapping(MemoryFile(path, writable), path, mmapOffset, size);
        if (micros != 0) mapping = new SlowBoMapping(mapping, micros);
        return _rendezvous is { } meet && meet.Gates(renderMinor) ? new RendezvousBoMapping(mapping, meet, renderMinor) : mapping;
    }

    /// <summary>
    /// The copy engine's view of a BO: found by its dmabuf, as SDMA reaches it, so a BO the CPU may not map (no mmap
    /// offset) is copied too.
    /// </summary>
    public IBoMapping CopyBo(uint renderMinor, int dmabufFd, ulong mmapOffset, ulong size, bool writable)
    {
        if (dmabufFd < 0) return MapBo(renderMinor, mmapOffset, size, writable);
        var r = Control(SimOpcode.CopyInfo, new WireWriter().I32(dmabufFd).U32(renderMinor).U64(size), $"renderD{renderMinor} dmabuf fd {dmabufFd}");
        var path = r.String();
        var offset = r.U64();
        var micros = r.U32();
        IBoMapping mapping = new FileBoMapping(MemoryFile(path, writable), path, offset, size);
        if (micros != 0) mapping = new SlowBoMapping(mapping, micros);
        return _rendezvous is { } meet && meet.Gates(renderMinor) ? new RendezvousBoMapping(mapping, meet, renderMinor) : mapping;
    }

    /// <summary>The memory file that holds a BO; the BO lies at its mmap offset there, so mmap(2) of that range maps it as a render node would.</summary>
    public string MemoryFileOf(uint renderMinor, ulong mmapOffset, ulong size) =>
        Control(SimOpcode.MapInfo, new WireWriter().U32(renderMinor).U64(mmapOffset).U64(size), $"renderD{renderMinor} offset 0x{mmapOffset:x}").String();

    /// <summary>
    /// Maps a BO through one open render file, as mmap(2) of that fd: refused (EINVAL) at an offset where no BO starts,
    /// and (EACCES) for a BO that file does not hold.
    /// </summary>
    public IBoMapping MapThrough(IRenderNode node, ulong mmapOffset, ulong size, bool writable)
    {
        var errno = MapThroughErrno(node.Fd, mmapOffset, size, out var path, out var micros);
        if (errno != 0) throw new DriverException(errno, "mmap", $"renderD{node.Minor} fd {node.Fd}", $"offset 0x{mmapOffset:x} size {size}", path);
        IBoMapping mapping = new FileBoMapping(MemoryFile(path, writable), path, mmapOffset, size);
        return micros != 0 ? new SlowBoMapping(mapping, micros) : mapping;
    }

    /// <summary>The simulator's answer to mmap of render fd <paramref name="fd"/>: 0 and the memory file, or the errno and why.</summary>
    internal int MapThroughErrno(int fd, ulong mmapOffset, ulong size, out string pathOrWhy, out uint micros)
    {
        var (errno, reply) = Call(SimOpcode.MapThrough, new WireWriter().I32(fd).U64(mmapOffset).U64(size));
        micros = 0;
        if (errno != 0)
        {
            pathOrWhy = _lastErrorDetail ?? "";
            return errno;
        }
        pathOrWhy = reply.String();
        micros = reply.U32();
        return 0;
    }

    /// <summary>
    /// One call checks every range; each answer (where its memory is, or why it cannot be mapped) waits for the one
    /// MapBo of that range, for <see cref="PreparedFor"/> at most. A range prepared again replaces its earlier answer.
    /// </summary>
    public void PrepareMaps(IReadOnlyList<BoRange> bos)
    {
        if (bos.Count == 0) return;
        var request = new WireWriter().U32((uint)bos.Count);
        foreach (var bo in bos) request.U32(bo.RenderMinor).U64(bo.MmapOffset).U64(bo.Size);
        var r = Control(SimOpcode.MapInfos, request, $"{bos.Count} BOs");
        var count = r.U32();
        if (count != bos.Count) throw new InvalidDataException($"simulator answered {count} mappings for {bos.Count} BOs");
        var at = System.Diagnostics.Stopwatch.GetTimestamp();
        foreach (var bo in bos)
        {
            var errno = r.I32();
            _prepared[bo] = errno == 0 ? new PreparedMap(0, r.String(), r.U32(), at) : new PreparedMap(errno, r.String(), 0, at);
        }
    }

    public void ForgetMaps(IReadOnlyList<BoRange> bos)
    {
        foreach (var bo in bos) _prepared.TryRemove(bo, out _);
    }

    /// <summary>
    /// The simulator's memory file, opened once per access mode and kept open (as a render node stays open in the
    /// process that maps its BOs): no open and close per BO mapped.
    /// </summary>
    private MemoryFileHandle MemoryFile(string path, bool writable)
    {
        lock (_files)
        {
            if (_files.TryGetValue((path, writable), out var file)) return file;
            var fd = Libc.Open(path, (writable ? Libc.O_RDWR : Libc.O_RDONLY) | Libc.O_CLOEXEC);
            if (fd < 0) throw new DriverException(Libc.LastErrno, "open", path);
            file = new MemoryFileHandle(new SafeFileHandle(fd, ownsHandle: true));
            _files[(path, writable)] = file;
            return file;
        }
    }


    /// <summary>
    /// How long a prepared answer stands for its MapBo: it says what the simulator found then (the BO there, its memory,
    /// the copy delay a test set for its GPU), and a later MapBo asks again, as mmap(2) would find the state of that moment.
    /// </summary>
    private static readonly TimeSpan PreparedFor = TimeSpan.FromSeconds(2);

    /// <summary>A prepared range's answer, given at <paramref name="At"/> (a Stopwatch timestamp): its memory file and copy delay, or (Errno set) the reason it cannot be mapped.</summary>
    private readonly record struct PreparedMap(int Errno, string Path, uint MicrosPerMiB, long At);

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

    /// <summary>
    /// The BOs of <paramref name="pid"/> its workload wrote after tick <paramref name="since"/> (0: all), with a digest of
    /// each one's contents when <paramref name="digests"/>; the process is not paused.
    /// </summary>
    public SimDirtySet Dirty(uint pid, ulong since, bool digests = false) =>
        JsonSerializer.Deserialize<SimDirtySet>(Control(SimOpcode.Dirty, new WireWriter().U32(pid).U64(since).U32(digests ? 1u : 0u), $"pid {pid}").String(), RequestHandler.Json)
        ?? throw new InvalidDataException("empty dirty set");

    /// <summary>Fails the next <see cref="SimFault.Count"/> calls of an op (pid 0: of any process) with an errno; Count 0 disarms.</summary>
    /// <summary>The simulator tracks writes per buffer: the dirty set without reading memory or pausing the process.</summary>
    public DirtyWrites? WrittenSince(uint pid, ulong since)
    {
        var set = Dirty(pid, since);
        return new DirtyWrites(set.Clock, set.Bos.Select(b => b.Buffer).ToHashSet(), set.DirtyBytes);
    }

    public void InjectFault(SimFault fault) => Control(SimOpcode.Fault, new WireWriter().String(JsonSerializer.Serialize(fault, RequestHandler.Json)));

    /// <summary>Makes every MiB read or written through mappings of this GPU's BOs take <paramref name="microsPerMiB"/> µs.</summary>
    public void SetCopyDelay(uint gpuId, uint microsPerMiB) => Control(SimOpcode.CopyDelay, new WireWriter().U32(gpuId).U32(microsPerMiB));

    /// <summary>Reads through mappings made from now on meet at <paramref name="rendezvous"/> (tests of overlapping copies).</summary>
    public void MeetCopiesAt(CopyRendezvous rendezvous) => _rendezvous = rendezvous;

    void IGpuDriver.KillProcess(uint pid) => Kill(pid);

    /// <summary>The process dies: it vanishes and later calls on it give ESRCH.</summary>
    public void Kill(uint pid) => Control(SimOpcode.Kill, new WireWriter().U32(pid), $"pid {pid}");

    public void Dispose()
    {
        Lose("the client was closed");
        lock (_files)
        {
            foreach (var file in _files.Values) file.Handle.Dispose();
            _files.Clear();
        }
    }
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

    public void QueryBos(IReadOnlyList<RenderBoQuery> queries) => client.RenderIoctls(Fd, queries);

    public void CreateBos(IReadOnlyList<RenderBoCreate> creates) => client.RenderCreates(Fd, creates);

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
