using System.Net;
using System.Net.Sockets;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// A TCP forwarder on 127.0.0.1 in front of one of a node's ports (remoting's or the migration data port; the node
/// advertises the proxy's port), so a test can break the link for real: once <see cref="BreakAfter"/> bytes went
/// through, every connection is reset once, and <see cref="OnBreak"/> runs (to break another proxy at the same moment); or
/// it changes one byte of every connection in flight (<see cref="FlipAt"/>), as a man in the middle would; or it keeps what
/// each connection carried toward the node (<see cref="Record"/>), for a replay.
/// </summary>
internal sealed class TcpProxy : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<Socket> _sockets = [];
    private readonly CancellationTokenSource _stop = new();
    private long _forwarded;
    private int _broken;
    private int _flipped;

    public TcpProxy()
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
    }

    public int Port { get; }

    /// <summary>The port connections are forwarded to (the node's real one); set before the node starts.</summary>
    public int TargetPort { get; set; }

    /// <summary>Reset every connection once this many bytes went through (toward the node); -1: never.</summary>
    public long BreakAfter { get; set; } = -1;

    /// <summary>In every connection, the byte at this offset toward the node goes through with its bits inverted; -1: none.</summary>
    public long FlipAt { get; set; } = -1;

    /// <summary>How many bytes were flipped so far (one per connection that carried that far).</summary>
    public int Flipped => _flipped;

    /// <summary>Runs once, when this proxy breaks its connections.</summary>
    public Action? OnBreak { get; set; }

    /// <summary>Keep the bytes each connection carries toward the node (<see cref="Recorded"/>).</summary>
    public bool Record { get; set; }

    /// <summary>What each recorded connection carried toward the node, in the order the connections were made.</summary>
    public IReadOnlyList<byte[]> Recorded
    {
        get
        {
            lock (_recorded) return [.. _recorded.Select(r => r.ToArray())];
        }
    }

    private readonly List<MemoryStream> _recorded = [];

    public long Forwarded => Interlocked.Read(ref _forwarded);
    public bool Broken => _broken == 1;

    public void Start() => _ = Accept();

    private async Task Accept()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await upstream.ConnectAsync(IPAddress.Loopback, TargetPort);
            }
            catch (SocketException)
            {
                client.Dispose();
                upstream.Dispose();
                continue;
            }
            lock (_sockets) _sockets.AddRange([client, upstream]);
            MemoryStream? record = null;
            if (Record)
                lock (_recorded) _recorded.Add(record = new MemoryStream());
            _ = Pump(client, upstream, toNode: true, record);
            _ = Pump(upstream, client, toNode: false);
        }
    }

    private async Task Pump(Socket from, Socket to, bool toNode, MemoryStream? record = null)
    {
        var buffer = new byte[64 * 1024];
        long carried = 0;
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0) break;
                if (toNode && FlipAt >= carried && FlipAt < carried + n)
                {
                    buffer[FlipAt - carried] ^= 0xFF;
                    Interlocked.Increment(ref _flipped);
                }
                carried += n;
                if (record is not null)
                    lock (_recorded) record.Write(buffer, 0, n);
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
                if (!toNode) continue;
                var total = Interlocked.Add(ref _forwarded, n);
                if (BreakAfter >= 0 && total >= BreakAfter && Interlocked.Exchange(ref _broken, 1) == 0)
                {
                    ResetAll();
                    OnBreak?.Invoke();
                }
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The other direction ended or the proxy stops.
        }
        Close(from);
        Close(to);
    }

    /// <summary>Breaks every connection now (once).</summary>
    public void BreakNow()
    {
        if (Interlocked.Exchange(ref _broken, 1) == 0) ResetAll();
    }

    /// <summary>RST on every connection through the proxy: both nodes see the link break.</summary>
    private void ResetAll()
    {
        List<Socket> all;
        lock (_sockets)
        {
            all = [.. _sockets];
            _sockets.Clear();
        }
        foreach (var s in all)
        {
            try
            {
                s.LingerState = new LingerOption(true, 0);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Already closed.
            }
            Close(s);
        }
    }

    private void Close(Socket s)
    {
        lock (_sockets) _sockets.Remove(s);
        s.Dispose();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        ResetAll();
    }
}
