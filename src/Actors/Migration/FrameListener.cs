using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using Gpuckpt.Actors.Cluster;
using Gpuckpt.Engine.Transfer;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// A node's data port: image frames arrive here over TCP connections of their own, beside remoting, which then carries
/// only the migration's control messages and acknowledgements. A frame costs one read into its array and one message
/// to the target actor, instead of remoting's envelopes and copies.
/// Only a sender that holds a target's token is heard: the target registers one (32 random bytes) when its copy is
/// begun and hands it to its sender over remoting; a connection starts with the token, and one that names no
/// registered target, or sends a frame over <see cref="MaximumFrame"/> bytes, is closed. Each frame is delivered to its
/// target as a byte array, as if it had come through remoting from the sender (acknowledgements go back that way).
/// Layout on the wire: the 32-byte token once, then per frame a little-endian u32 length and the frame's bytes. With the
/// cluster's TLS, all of it travels inside mutual TLS: the sender must present a certificate of the cluster's CA before
/// its first byte is read (the token is never seen in clear, and a frame cannot be changed, replayed or reordered
/// within a connection without the connection failing).
/// </summary>
public sealed class FrameListener : IDisposable
{
    public const int TokenSize = 32;

    /// <summary>What one receive may take under TLS (<see cref="LinkStream"/>).</summary>
    private const int ReadAhead = 1 << 20;
    private static readonly TimeSpan TokenTimeout = TimeSpan.FromSeconds(10);
    private readonly TcpListener _listener;
    private readonly ConcurrentDictionary<string, (IActorRef Target, IActorRef AckTo)> _targets = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly ILoggingAdapter _log;
    private readonly ClusterTls? _tls;

    private FrameListener(IPAddress address, int port, int advertisedPort, int maximumFrame, ILoggingAdapter log, ClusterTls? tls)
    {
        _log = log;
        _tls = tls;
        MaximumFrame = maximumFrame;
        _listener = new TcpListener(address, port);
        try
        {
            _listener.Start();
        }
        catch (SocketException e)
        {
            throw new InvalidOperationException($"the migration data port {address}:{port} cannot be bound: {e.Message}", e);
        }
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        AdvertisedPort = advertisedPort > 0 ? advertisedPort : Port;
        _ = Accept();
    }

    /// <summary>
    /// Binds the data port on <paramref name="hostname"/> (the address remoting binds: never every interface) and
    /// <paramref name="port"/> (0: any free port; senders learn it from the target). <paramref name="advertisedPort"/>
    /// is the port senders reach when a forwarder stands in front of this one (0: the bound port). With
    /// <paramref name="tls"/>, a connection is heard only once the sender has proved a certificate of the cluster.
    /// </summary>
    public static FrameListener Start(string hostname, int port, int advertisedPort, int maximumFrame, ILoggingAdapter log, ClusterTls? tls = null)
    {
        var address = IPAddress.TryParse(hostname, out var parsed)
            ? parsed
            : Dns.GetHostAddresses(hostname).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
              ?? throw new InvalidOperationException($"the migration data port's hostname {hostname} has no IPv4 address");
        return new FrameListener(address, port, advertisedPort, maximumFrame, log, tls);
    }

    /// <summary>The bound port.</summary>
    public int Port { get; }

    /// <summary>The port a sender connects to.</summary>
    public int AdvertisedPort { get; }

    /// <summary>The largest frame accepted, in bytes (remoting's maximum frame size: the same limit either way).</summary>
    public int MaximumFrame { get; }

    /// <summary>Frames that arrive with the returned token go to <paramref name="target"/>, sent by <paramref name="ackTo"/>.</summary>
    public string Register(IActorRef target, IActorRef ackTo)
    {
        var token = Convert.ToHexString(RandomNumberGenerator.GetBytes(TokenSize));
        _targets[token] = (target, ackTo);
        return token;
    }

    /// <summary>The token no longer admits anyone; connections that carry it are closed at their next frame.</summary>
    public void Unregister(string token) => _targets.TryRemove(token, out _);

    private async Task Accept()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                _log.Warning("migration data port {0}: accept failed: {1}", Port, e.Message);
                continue;
            }
            _ = Serve(socket);
        }
    }

    private async Task Serve(Socket socket)
    {
        var peer = socket.RemoteEndPoint?.ToString() ?? "?";
        IActorRef? heard = null;
        try
        {
            socket.NoDelay = true;
            await using var network = new NetworkStream(socket, ownsSocket: true);
            var raw = new byte[TokenSize];
            Stream stream = network;
            using (var first = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
            {
                first.CancelAfter(TokenTimeout);
                if (_tls is not null) stream = await Authenticate(network, peer, first.Token);
                await stream.ReadExactlyAsync(raw, first.Token);
            }
            var token = Convert.ToHexString(raw);
            if (!_targets.TryGetValue(token, out var route))
            {
                _log.Warning("migration data port {0}: a connection from {1} named no migration; closed", Port, peer);
                return;
            }
            heard = route.Target;
            var prefix = new byte[4];
            while (true)
            {
                try
                {
                    await stream.ReadExactlyAsync(prefix, _stop.Token);
                }
                catch (EndOfStreamException)
                {
                    return; // the sender closed the link between frames
                }
                var length = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
                if (length == 0 || length > MaximumFrame)
                {
                    _log.Warning("migration data port {0}: {1} sent a frame of {2} bytes (at most {3}); closed", Port, peer, length, MaximumFrame);
                    return;
                }
                var frame = FramePool.Shared.Rent((int)length);
                await stream.ReadExactlyAsync(frame, _stop.Token);
                if (!_targets.ContainsKey(token)) return; // the target ended
                route.Target.Tell(new LinkFrame(frame), route.AckTo);
            }
        }
        catch (AuthenticationException e)
        {
            _log.Warning("migration data port {0}: refused a TLS peer at {1}: {2}", Port, peer, e.InnerException?.Message ?? e.Message);
        }
        catch (IOException e) when (_tls is not null && heard is not null && e is not EndOfStreamException &&
                                    e.InnerException is not (SocketException or ObjectDisposedException or null))
        {
            // Not a broken connection: a record that failed TLS's integrity check. Its bytes were changed in flight, and
            // the migration they belong to is not to be trusted to this link again.
            var reason = $"the data link from {peer} carried a record that failed TLS's integrity check ({e.InnerException.Message}): its bytes were changed in flight";
            _log.Warning("migration data port {0}: {1}; closed", Port, reason);
            heard.Tell(new LinkTampered(reason));
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or EndOfStreamException)
        {
            // A broken link: the sender resends what was not acknowledged.
        }
        finally
        {
            socket.Dispose();
        }
    }

    /// <summary>The server's side of the handshake: this node's certificate, and the sender's, which must be the cluster's.</summary>
    private async Task<Stream> Authenticate(NetworkStream network, string peer, CancellationToken cancel)
    {
        var tls = new SslStream(new LinkStream(network, ReadAhead), leaveInnerStreamOpen: false);
        string? refusal = null;
        try
        {
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = _tls!.Certificate,
                ClientCertificateRequired = true,
                EnabledSslProtocols = SslProtocols.Tls13 | SslProtocols.Tls12,
                RemoteCertificateValidationCallback = (_, certificate, _, _) => (refusal = _tls.Authority.Check(certificate)) is null,
            }, cancel);
            return tls;
        }
        catch (AuthenticationException e) when (refusal is not null)
        {
            await tls.DisposeAsync();
            throw new AuthenticationException(refusal, e);
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }
}
