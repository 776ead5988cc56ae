using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator.Memory;
using Gpuckpt.Simulator.Model;
using Gpuckpt.Simulator.Workloads;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Simulator.Protocol;

/// <summary>Decodes one connection's requests and applies them to the driver under its lock. Owns the connection's fds.</summary>
internal sealed class RequestHandler(SimulatedDriver driver, Func<bool> clientGone)
{
    /// <summary>How long a run holds the driver before other clients get their turn.</summary>
    private static readonly long RunSliceTicks = System.Diagnostics.Stopwatch.Frequency / 50;

    private readonly FdTable _fds = new();

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public void Close()
    {
        using (driver.Lock.Enter()) _fds.CloseAll();
    }

    /// <summary>The reply payload; a refusal throws <see cref="SimError"/>.</summary>
    public WireWriter Handle(SimOpcode op, WireReader r)
    {
        var w = new WireWriter();
        if (op == SimOpcode.Run) return Run(r, w);
        using (driver.Lock.Enter())
        {
            switch (op)
            {
                case SimOpcode.Topology:
                    w.String(driver.Topology.ToJson());
                    break;
                case SimOpcode.OpenKfd:
                    driver.OpenKfd(r.U32());
                    break;
                case SimOpcode.KfdIoctl:
                    KfdIoctl(r, w);
                    break;
                case SimOpcode.OpenRender:
                {
                    var pid = r.U32();
                    w.I32(driver.OpenRender(_fds, pid, r.U32()));
                    break;
                }
                case SimOpcode.OpenRenderFile:
                {
                    var pid = r.U32();
                    var minor = r.U32();
                    w.I32(driver.OpenRender(_fds, pid, minor, r.I32()));
                    break;
                }
                case SimOpcode.RenderFiles:
                {
                    var files = driver.RenderFilesOpenedBy(r.U32());
                    w.U32((uint)files.Count);
                    foreach (var (minor, index) in files) w.U32(minor).I32(index);
                    break;
                }
                case SimOpcode.RenderIoctl:
                    RenderIoctl(r, w);
                    break;
                case SimOpcode.RenderIoctls:
                {
                    // Many ioctls of one file, each applied and answered as its own RenderIoctl would be (injected
                    // faults included): a refusal is answered for that call alone.
                    var fd = r.I32();
                    var count = r.U32();
                    w.U32(count);
                    for (var i = 0; i < count; i++)
                    {
                        var (request, args, array) = (r.U32(), r.Blob(), r.Blob());
                        try
                        {
                            var sent = args.Length;
                            RenderIoctl(fd, request, ref args, array);
                            w.I32(0).Blob(args.AsSpan(0, sent)).Blob(array);
                        }
                        catch (SimError e)
                        {
                            w.I32(e.ErrorNumber).String(e.Detail);
                        }
                    }
                    break;
                }
                case SimOpcode.RenderCreates:
                    RenderCreates(r, w);
                    break;
                case SimOpcode.CloseFd:
                    _fds.Close(r.I32());
                    break;
                case SimOpcode.CopyInfo:
                {
                    var (path, offset, delay) = driver.CopyInfo(_fds, r.I32(), r.U32(), r.U64());
                    w.String(path).U64(offset).U32(delay);
                    break;
                }
                case SimOpcode.DmabufInode:
                    w.U64(driver.DmabufInode(_fds, r.I32()));
                    break;
                case SimOpcode.DmabufInodes:
                {
                    var count = r.U32();
                    var fds = new int[count];
                    for (var i = 0; i < fds.Length; i++) fds[i] = r.I32();
                    w.U32(count);
                    foreach (var fd in fds) w.U64(driver.DmabufInode(_fds, fd));
                    break;
                }
                case SimOpcode.CloseFds:
                {
                    var count = r.U32();
                    SimError? first = null;
                    for (var i = 0; i < count; i++)
                    {
                        try
                        {
                            _fds.Close(r.I32());
                        }
                        catch (SimError e)
                        {
                            first ??= e;
                        }
                    }
                    if (first is not null) throw first;
                    break;
                }
                case SimOpcode.MapInfos:
                {
                    // Each range is checked as its own MapInfo would be (injected faults included); a refusal is
                    // answered for that range alone.
                    var count = r.U32();
                    w.U32(count);
                    for (var i = 0; i < count; i++)
                    {
                        var minor = r.U32();
                        var offset = r.U64();
                        var size = r.U64();
                        try
                        {
                            var (path, delay) = driver.MapInfo(minor, offset, size);
                            w.I32(0).String(path).U32(delay);
                        }
                        catch (SimError e)
                        {
                            w.I32(e.ErrorNumber).String(e.Detail);
                        }
                    }
                    break;
                }
                case SimOpcode.MapThrough:
                {
                    var fd = r.I32();
                    var offset = r.U64();
                    var (path, delay) = driver.MapThrough(_fds, fd, offset, r.U64());
                    w.String(path).U32(delay);
                    break;
                }
                case SimOpcode.MapInfo:
                {
                    var minor = r.U32();
                    var offset = r.U64();
                    var (path, delay) = driver.MapInfo(minor, offset, r.U64());
                    w.String(path).U32(delay);
                    break;
                }
                case SimOpcode.CreateRestoreTarget:
                    w.U32(driver.CreateRestoreTarget(r.AtEnd ? null : r.String()));
                    break;
                case SimOpcode.RestoreTargets:
                {
                    var pids = driver.RestoreTargetsTagged(r.String());
                    w.U32((uint)pids.Count);
                    foreach (var p in pids) w.U32(p);
                    break;
                }
                case SimOpcode.RenderMinors:
                {
                    var minors = driver.RenderMinorsOpenedBy(r.U32());
                    w.U32((uint)minors.Count);
                    foreach (var m in minors) w.U32(m);
                    break;
                }
                case SimOpcode.Spawn:
                {
                    var request = JsonSerializer.Deserialize<WorkloadRequest>(r.String(), Json)
                                  ?? throw new SimError(Errno.EINVAL, "spawn: empty request");
                    WorkloadSpec spec;
                    try
                    {
                        spec = WorkloadCatalog.Create(request);
                    }
                    catch (InvalidDataException e)
                    {
                        throw new SimError(Errno.EINVAL, e.Message);
                    }
                    w.U32(driver.Spawn(spec, request.Seed));
                    break;
                }
                case SimOpcode.State:
                    w.String(JsonSerializer.Serialize(driver.State(r.U32()), Json));
                    break;
                case SimOpcode.Dirty:
                {
                    var pid = r.U32();
                    var since = r.U64();
                    w.String(JsonSerializer.Serialize(driver.Dirty(pid, since, r.U32() != 0), Json));
                    break;
                }
                case SimOpcode.Fault:
                    driver.InjectFault(JsonSerializer.Deserialize<SimFault>(r.String(), Json) ?? throw new SimError(Errno.EINVAL, "fault: empty"));
                    break;
                case SimOpcode.Kill:
                    driver.Kill(r.U32());
                    break;
                case SimOpcode.CopyDelay:
                {
                    var gpu = r.U32();
                    driver.SetCopyDelay(gpu, r.U32());
                    break;
                }
                default:
                    throw new SimError(Errno.EINVAL, $"unknown opcode {(uint)op}");
            }
        }
        return w;
    }

    /// <summary>
    /// A run in slices of at most 20 ms, each under the lock: other clients are served in between, and a client that
    /// hangs up stops its run at the next slice, so no step count can wedge the driver.
    /// </summary>
    private WireWriter Run(WireReader r, WireWriter w)
    {
        var pid = r.U32();
        var steps = r.U64();
        ulong done = 0;
        while (true)
        {
            (ulong Ran, ulong Step) slice;
            using (driver.Lock.Enter()) slice = driver.RunSlice(pid, steps - done, RunSliceTicks);
            done += slice.Ran;
            if (done >= steps) return w.U64(slice.Step);
            if (clientGone()) throw new SimError(Errno.EINTR, $"run of process {pid}: the client went away after {done} of {steps} steps");
        }
    }

    private void KfdIoctl(WireReader r, WireWriter w)
    {
        var pid = r.U32();
        var request = r.U32();
        var args = r.Blob();
        if (((request >> 8) & 0xff) != KfdIoctls.Base) throw new SimError(Errno.ENOTTY, $"request 0x{request:x} is not a KFD ioctl");
        if (IoctlNumber.Nr(request) == IoctlNumber.Nr(KfdIoctls.GetVersion))
        {
            ref var v = ref Struct<KfdIoctlGetVersionArgs>(request, KfdIoctls.GetVersion, args);
            driver.OpenKfd(pid);
            v.major_version = SimulatedDriver.KfdMajorVersion;
            v.minor_version = SimulatedDriver.KfdMinorVersion;
            w.Blob(args);
            return;
        }
        if (IoctlNumber.Nr(request) != IoctlNumber.Nr(KfdIoctls.CriuOp)) throw new SimError(Errno.ENOTTY, $"KFD ioctl nr 0x{IoctlNumber.Nr(request):x} is not simulated");
        ref var a = ref Struct<KfdIoctlCriuArgs>(request, KfdIoctls.CriuOp, args);
        var devices = r.Blob();
        var bos = r.Blob();
        var priv = r.Blob();
        driver.KfdCriu(_fds, pid, ref a, Cast<KfdCriuDeviceBucket>(devices), Cast<KfdCriuBoBucket>(bos), priv);
        w.Blob(args).Blob(devices).Blob(bos).Blob(priv);
    }

    private void RenderIoctl(WireReader r, WireWriter w)
    {
        var fd = r.I32();
        var request = r.U32();
        var args = r.Blob();
        var sent = args.Length;
        var array = r.Blob();
        RenderIoctl(fd, request, ref args, array);
        w.Blob(args.AsSpan(0, sent)).Blob(array);
    }

    /// <summary>One render-node ioctl on the bytes of its struct (<paramref name="args"/>, replaced where the struct grew) and its array.</summary>
    /// <summary>
    /// Render BOs recreated as the engine's restore would one call at a time (<see cref="RenderBoCreate"/>): GEM_CREATE,
    /// GEM_CHANGE_HANDLE when the new handle is not the BO's, GEM_VA of each mapping, GEM_MMAP and PRIME_HANDLE_TO_FD
    /// when asked, each applied and answered as its own RenderIoctl would be (injected faults included). The first call
    /// that fails ends the batch: the BOs after it are read and not made.
    /// </summary>
    private void RenderCreates(WireReader r, WireWriter w)
    {
        var fd = r.I32();
        var count = r.U32();
        w.U32(count);
        var failed = false;
        for (var i = 0; i < count; i++)
        {
            var create = r.Blob();
            var handle = r.U32();
            var mappings = new byte[r.U32()][];
            for (var m = 0; m < mappings.Length; m++) mappings[m] = r.Blob();
            // GEM_MMAP and PRIME_HANDLE_TO_FD come only for the BOs that ask them (an empty blob: not asked).
            var (mmap, prime) = (r.Blob(), r.Blob());
            if (failed) continue;
            failed = !Call(DrmIoctls.AmdgpuGemCreate, create, back: true);
            if (failed) continue;
            var made = MemoryMarshal.Read<DrmAmdgpuGemCreate>(create).handle;
            if (made != handle)
            {
                var change = new DrmGemChangeHandle { handle = made, new_handle = handle };
                failed = !Call(DrmIoctls.GemChangeHandle, MemoryMarshal.AsBytes(new Span<DrmGemChangeHandle>(ref change)).ToArray(), back: false);
                if (failed) continue;
            }
            foreach (var va in mappings)
                if (failed = !Call(DrmIoctls.AmdgpuGemVa, va, back: false)) break;
            if (failed) continue;
            if (mmap.Length > 0 && (failed = !Call(DrmIoctls.AmdgpuGemMmap, mmap, back: true))) continue;
            if (prime.Length > 0) failed = !Call(DrmIoctls.PrimeHandleToFd, prime, back: true);
        }

        // One call, answered as RenderIoctl's: 0 and (for a call that writes back) its args, or the errno and why.
        bool Call(uint request, byte[] args, bool back)
        {
            try
            {
                var sent = args.Length;
                var buffer = args;
                RenderIoctl(fd, request, ref buffer, []);
                w.I32(0);
                if (back) w.Blob(buffer.AsSpan(0, sent));
                else w.Blob([]);
                if (back && !ReferenceEquals(buffer, args)) buffer.AsSpan(0, sent).CopyTo(args);
                return true;
            }
            catch (SimError e)
            {
                w.I32(e.ErrorNumber).String(e.Detail);
                return false;
            }
        }
    }

    private void RenderIoctl(int fd, uint request, ref byte[] args, byte[] array)
    {
        if (((request >> 8) & 0xff) != DrmIoctls.Base) throw new SimError(Errno.ENOTTY, $"request 0x{request:x} is not a DRM ioctl");
        var nr = IoctlNumber.Nr(request);
        if (nr == IoctlNumber.Nr(DrmIoctls.AmdgpuGemCreate))
            driver.GemCreate(_fds, fd, ref Drm<DrmAmdgpuGemCreate>(request, DrmIoctls.AmdgpuGemCreate, ref args));
        else if (nr == IoctlNumber.Nr(DrmIoctls.GemClose))
            driver.GemClose(_fds, fd, ref Drm<DrmGemClose>(request, DrmIoctls.GemClose, ref args));
        else if (nr == IoctlNumber.Nr(DrmIoctls.AmdgpuGemMmap))
            driver.GemMmap(_fds, fd, ref Drm<DrmAmdgpuGemMmap>(request, DrmIoctls.AmdgpuGemMmap, ref args));
        else if (nr == IoctlNumber.Nr(DrmIoctls.AmdgpuGemVa))
            driver.GemVa(_fds, fd, ref Drm<DrmAmdgpuGemVa>(request, DrmIoctls.AmdgpuGemVa, ref args));
        else if (nr == IoctlNumber.Nr(DrmIoctls.GemChangeHandle))
            driver.GemChangeHandle(_fds, fd, ref Drm<DrmGemChangeHandle>(request, DrmIoctls.GemChangeHandle, ref args));
        else if (nr == IoctlNumber.Nr(DrmIoctls.PrimeHandleToFd))
            driver.PrimeHandleToFd(_fds, fd, ref Drm<DrmPrimeHandle>(request, DrmIoctls.PrimeHandleToFd, ref args));
        else if (nr == IoctlNumber.Nr(DrmIoctls.PrimeFdToHandle))
            driver.PrimeFdToHandle(_fds, fd, ref Drm<DrmPrimeHandle>(request, DrmIoctls.PrimeFdToHandle, ref args));
        else if (nr == IoctlNumber.Nr(DrmIoctls.AmdgpuGemListHandles))
            driver.GemListHandles(_fds, fd, ref Drm<DrmAmdgpuGemListHandles>(request, DrmIoctls.AmdgpuGemListHandles, ref args), Cast<DrmAmdgpuGemListHandlesEntry>(array));
        else if (nr == IoctlNumber.Nr(DrmIoctls.AmdgpuCtx))
            driver.Ctx(_fds, fd, ref Drm<DrmAmdgpuCtx>(request, DrmIoctls.AmdgpuCtx, ref args));
        else if (nr == IoctlNumber.Nr(DrmIoctls.AmdgpuCs))
        {
            // The chunks come flattened, as the emulated kernel read them from the caller: IB chunks, then the BO list's handles.
            var (ibs, handles) = SubmittedChunks(array);
            driver.CommandSubmit(_fds, fd, ref Drm<DrmAmdgpuCs>(request, DrmIoctls.AmdgpuCs, ref args), ibs, handles);
        }
        else if (nr == IoctlNumber.Nr(DrmIoctls.AmdgpuWaitCs))
            driver.WaitCs(_fds, fd, ref Drm<DrmAmdgpuWaitCs>(request, DrmIoctls.AmdgpuWaitCs, ref args));
        else if (nr == IoctlNumber.Nr(DrmIoctls.AmdgpuGemOp))
            driver.GemMappingInfo(_fds, fd, ref Drm<DrmAmdgpuGemOp>(request, DrmIoctls.AmdgpuGemOp, ref args), Cast<DrmAmdgpuGemVmEntry>(array));
        else
            throw new SimError(Errno.ENOTTY, $"DRM ioctl nr 0x{nr:x} is not simulated");
    }

    /// <summary>A CS's chunks in the wire form <see cref="SubmittedChunksWire"/> writes: counts, then the IB chunks and the handles.</summary>
    private static (List<DrmAmdgpuCsChunkIb> Ibs, List<uint> Handles) SubmittedChunks(byte[] array)
    {
        var r = new WireReader(array);
        var ibs = new List<DrmAmdgpuCsChunkIb>();
        var handles = new List<uint>();
        var ibCount = r.U32();
        var handleCount = r.U32();
        for (var i = 0; i < ibCount; i++)
            ibs.Add(new DrmAmdgpuCsChunkIb { flags = r.U32(), va_start = r.U64(), ib_bytes = r.U32(), ip_type = r.U32(), ip_instance = r.U32(), ring = r.U32() });
        for (var i = 0; i < handleCount; i++) handles.Add(r.U32());
        return (ibs, handles);
    }

    /// <summary>The wire form of a CS's chunks, for <see cref="SubmittedChunks"/>.</summary>
    internal static byte[] SubmittedChunksWire(IReadOnlyList<DrmAmdgpuCsChunkIb> ibs, IReadOnlyList<uint> handles)
    {
        var w = new WireWriter().U32((uint)ibs.Count).U32((uint)handles.Count);
        foreach (var ib in ibs) w.U32(ib.flags).U64(ib.va_start).U32(ib.ib_bytes).U32(ib.ip_type).U32(ib.ip_instance).U32(ib.ring);
        foreach (var h in handles) w.U32(h);
        return w.Written.ToArray();
    }

    /// <summary>
    /// A DRM argument struct as drm_ioctl hands it to the driver: dispatched by number, its size taken from the request;
    /// a shorter struct (older headers) is zero-extended, a longer one cut to the driver's size. The reply keeps the
    /// caller's size. The direction bits must be the driver's.
    /// </summary>
    private static ref T Drm<T>(uint request, uint expected, ref byte[] bytes) where T : unmanaged
    {
        if (request >> 30 != expected >> 30)
            throw new SimError(Errno.EINVAL, $"request 0x{request:x} has other direction bits than 0x{expected:x}");
        var size = IoctlNumber.Size(request);
        if (bytes.Length != size)
            throw new SimError(Errno.EINVAL, $"{typeof(T).Name}: {bytes.Length} bytes sent, the request encodes {size}");
        if (size < Sizes.Of<T>()) Array.Resize(ref bytes, Sizes.Of<T>());
        return ref Unsafe.As<byte, T>(ref bytes[0]);
    }

    /// <summary>The struct in <paramref name="bytes"/>; the request's size bits must be the struct's size (else EINVAL).</summary>
    private static ref T Struct<T>(uint request, uint expected, byte[] bytes) where T : unmanaged
    {
        if (IoctlNumber.Size(request) != Sizes.Of<T>() || request != expected)
            throw new SimError(Errno.EINVAL, $"request 0x{request:x} encodes size {IoctlNumber.Size(request)}, {typeof(T).Name} is {Sizes.Of<T>()} bytes (expected 0x{expected:x})");
        if (bytes.Length != Sizes.Of<T>())
            throw new SimError(Errno.EINVAL, $"{typeof(T).Name}: {bytes.Length} bytes sent, the struct has {Sizes.Of<T>()}");
        return ref Unsafe.As<byte, T>(ref bytes[0]);
    }

    private static Span<T> Cast<T>(byte[] bytes) where T : unmanaged
    {
        if (bytes.Length % Sizes.Of<T>() != 0) throw new SimError(Errno.EINVAL, $"{typeof(T).Name} array of {bytes.Length} bytes");
        return MemoryMarshal.Cast<byte, T>(bytes.AsSpan());
    }
}
