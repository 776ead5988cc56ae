using System.Net.Sockets;
using Gpuckpt.Simulator.Memory;
using Gpuckpt.Simulator.Model;
using Gpuckpt.Simulator.Protocol;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Simulator;

/// <summary>
/// The simulated driver serving its Unix socket, in this process (`gpuckpt simulator` and the demo host it).
/// Each connection is served on its own thread; Dispose stops serving and removes the socket and memory files.
/// </summary>
public sealed partial class SimulatorServer : IDisposable
{
    private readonly SimulatedDriver _driver;
    private readonly Engine.Native.PublishedSocket _published;
    private readonly bool _ownsMemoryDir;
    /// <summary>An exclusive flock on the memory directory's owner file, held for the simulator's life: the kernel drops it when the process dies.</summary>
    private readonly FileStream? _owner;
    private readonly List<Socket> _connections = [];
    private readonly Thread _acceptor;
    private int _disposed;

    private SimulatorServer(SimulatorOptions options)
    {
        SocketPath = Path.GetFullPath(options.SocketPath);
        Topology = options.Topology ?? SimTopology.Generate(options.Gpus, options.IdSeed);
        if (options.SmallBar) Topology = Topology with { Gpus = [.. Topology.Gpus.Select(g => g with { VramPublic = 0 })] };
        if (Topology.Gpus.Count == 0) throw new InvalidDataException("the simulator needs at least one GPU");
        _ownsMemoryDir = options.MemoryDir is null;
        MemoryDir = options.MemoryDir ?? FreshMemoryDir(SocketPath);
        if (_ownsMemoryDir)
        {
            Reclaimed = ReclaimDead(Path.GetDirectoryName(MemoryDir)!);
            _owner = CreateOwned(MemoryDir);
        }
        else Directory.CreateDirectory(MemoryDir);
        _driver = new SimulatedDriver(Topology, MemoryDir, options.ResidentVram);
        try
        {
            _published = Engine.Native.PublishedSocket.Listen(SocketPath, "simulator", "stop that one, or choose another --socket");
        }
        catch
        {
            _driver.Dispose();
            if (_ownsMemoryDir && Directory.Exists(MemoryDir)) Directory.Delete(MemoryDir, recursive: true);
            _owner?.Dispose();
            throw;
        }
        _acceptor = new Thread(AcceptLoop) { IsBackground = true, Name = "simulator-accept" };
        _acceptor.Start();
    }

    public string SocketPath { get; }
    public string MemoryDir { get; }

    /// <summary>The driver's model itself, for specs that check an image against the truth (take <see cref="SimulatedDriver.Lock"/>).</summary>
    internal SimulatedDriver Model => _driver;
    public GpuTopology Topology { get; }

    public static SimulatorServer Start(SimulatorOptions options) => new(options);

    /// <summary>The memory directories of dead simulators removed at start, with the bytes they held.</summary>
    public IReadOnlyList<(string Dir, long Bytes)> Reclaimed { get; } = [];

    /// <summary>The file in a memory directory whose exclusive flock its simulator holds while it runs.</summary>
    private const string OwnerFile = ".owner";

    /// <summary>
    /// Creates <paramref name="dir"/> already holding its owner lock: it is made under a name the reclaim skips and
    /// renamed into place with the lock held, so no simulator starting meanwhile finds it without an owner.
    /// </summary>
    private static FileStream CreateOwned(string dir)
    {
        var staging = dir + ".new";
        Directory.CreateDirectory(staging);
        // FileShare.None is an exclusive flock(2) on Linux: one holder, released by the kernel with its process.
        var owner = new FileStream(Path.Combine(staging, OwnerFile), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        try
        {
            Directory.Move(staging, dir);
            return owner;
        }
        catch
        {
            owner.Dispose();
            Directory.Delete(staging, recursive: true);
            throw;
        }
    }

    /// <summary>
    /// Removes the memory directories that simulators killed without their cleanup (SIGKILL, OOM) left in
    /// <paramref name="parent"/>: a directory goes only when its owner lock can be taken, which the kernel allows once
    /// the simulator that held it is dead, whatever pid namespace either of them runs in. A directory from before owner
    /// locks goes when the pid in its name no longer runs.
    /// </summary>
    private static List<(string Dir, long Bytes)> ReclaimDead(string parent)
    {
        var removed = new List<(string, long)>();
        if (!Directory.Exists(parent)) return removed;
        foreach (var dir in Directory.EnumerateDirectories(parent, "gpuckpt-sim-*"))
        {
            var m = MemoryDirName().Match(Path.GetFileName(dir));
            if (!m.Success || !int.TryParse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture, out var pid)) continue;
            if (pid == Environment.ProcessId) continue;
            FileStream? lockOfDead = null;
            try
            {
                var ownerFile = Path.Combine(dir, OwnerFile);
                if (File.Exists(ownerFile)) lockOfDead = new FileStream(ownerFile, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                else if (Directory.Exists($"/proc/{pid}")) continue;
                var bytes = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Sum(Engine.Native.Libc.AllocatedBytes); // memory files are sparse: what they hold, not their length
                Directory.Delete(dir, recursive: true);
                removed.Add((dir, bytes));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Its simulator runs (the owner lock is held), or another user's, or removed meanwhile by another
                // simulator starting: not ours to insist on.
            }
            finally
            {
                lockOfDead?.Dispose();
            }
        }
        return removed;
    }

    [System.Text.RegularExpressions.GeneratedRegex("^gpuckpt-sim-([0-9]+)-[0-9a-f]{32}$")]
    private static partial System.Text.RegularExpressions.Regex MemoryDirName();

    /// <summary>Where fresh memory directories go instead of /dev/shm (another tmpfs, say).</summary>
    public const string MemoryRootVariable = "GPUCKPT_SIM_MEMORY_ROOT";

    /// <summary>A new directory under $GPUCKPT_SIM_MEMORY_ROOT, else /dev/shm, else beside the socket.</summary>
    private static string FreshMemoryDir(string socketPath)
    {
        var name = $"gpuckpt-sim-{Environment.ProcessId}-{Guid.NewGuid():N}";
        var parent = Environment.GetEnvironmentVariable(MemoryRootVariable) is { Length: > 0 } root ? Path.GetFullPath(root)
            : Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetDirectoryName(socketPath)!;
        return Path.Combine(parent, name);
    }

    private void AcceptLoop()
    {
        while (Volatile.Read(ref _disposed) == 0)
        {
            Socket connection;
            try
            {
                connection = _published.Listener.Accept();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }
            lock (_connections) _connections.Add(connection);
            new Thread(() => Serve(connection)) { IsBackground = true, Name = "simulator-connection" }.Start();
        }
    }

    private void Serve(Socket connection)
    {
        // A client that hung up mid-request: its long work stops at the next slice.
        var handler = new RequestHandler(_driver, () => connection.Poll(0, SelectMode.SelectRead) && connection.Available == 0);
        try
        {
            using var stream = new NetworkStream(connection, ownsSocket: true);
            while (Frames.Read(stream) is { } frame)
            {
                int errno;
                WireWriter reply;
                try
                {
                    reply = handler.Handle((SimOpcode)frame.Head, new WireReader(frame.Payload));
                    errno = 0;
                }
                catch (SimError e)
                {
                    errno = e.ErrorNumber;
                    reply = new WireWriter().String(e.Detail);
                }
                catch (Exception e)
                {
                    // A fault in the simulator itself must not take the whole driver down: the caller sees EIO.
                    errno = Engine.Devices.Errno.EIO;
                    reply = new WireWriter().String(e.Message);
                }
                Frames.Write(stream, unchecked((uint)errno), reply.Written);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidDataException)
        {
            // The client went away mid-frame: its fds close below like a dead process's.
        }
        finally
        {
            if (Volatile.Read(ref _disposed) == 0) handler.Close();
            lock (_connections) _connections.Remove(connection);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _published.Dispose();
        lock (_connections)
            foreach (var c in _connections)
                c.Dispose();
        using (_driver.Lock.Enter()) _driver.Dispose();
        if (_ownsMemoryDir && Directory.Exists(MemoryDir)) Directory.Delete(MemoryDir, recursive: true);
        else
            foreach (var g in Topology.Gpus)
                File.Delete(Path.Combine(MemoryDir, $"renderD{g.DrmRenderMinor}.mem"));
        _owner?.Dispose();
    }
}
