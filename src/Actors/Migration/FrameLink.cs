using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Threading.Channels;
using Akka.Actor;
using Gpuckpt.Actors.Cluster;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// The sender's end of a data connection to a target's <see cref="FrameListener"/>: frames posted here are written in
/// order on one TCP connection, by a task of their own. The link does not retry: when it cannot connect or a write
/// fails, it tells its owner once (<see cref="LinkFailed"/>) and drops what it still held; the owner's acknowledgement
/// timeout sends the unconfirmed frames again. With the cluster's TLS the connection is mutual TLS: the link presents
/// this node's certificate and talks only to a listener whose certificate is the cluster's.
/// </summary>
public sealed class FrameLink : IDisposable
{
    /// <summary>Under TLS, how many bytes of records are sent together (<see cref="LinkStream"/>).</summary>
    private const int HeldWrites = 1 << 20;

    /// <summary>The listener never writes, so the link reads little.</summary>
    private const int WatchBuffer = 4096;

    private readonly Channel<byte[]> _frames = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private volatile bool _failed;

    private FrameLink(string host, int port, string token, IActorRef owner, ClusterTls? tls) => _ = Run(host, port, token, owner, tls);

    /// <summary>Connects to <paramref name="host"/>:<paramref name="port"/> and presents <paramref name="token"/>; frames may be posted at once.</summary>
    public static FrameLink Open(string host, int port, string token, IActorRef owner, ClusterTls? tls = null) => new(host, port, token, owner, tls);

    /// <summary>False once the link has failed: the frame was not taken.</summary>
    public bool Post(byte[] frame) => !_failed && _frames.Writer.TryWrite(frame);

    private async Task Run(string host, int port, string token, IActorRef owner, ClusterTls? tls)
    {
        var connected = false;
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(host, port, _stop.Token);
            connected = true;
            await using var network = new NetworkStream(socket, ownsSocket: false);
            await using var stream = tls is null ? (Stream)network : await Authenticate(network, host, tls);
            await stream.WriteAsync(Convert.FromHexString(token), _stop.Token);
            await stream.FlushAsync(_stop.Token);
            // The listener never writes: a read that ends means the link closed, noticed even while nothing is sent.
            var closed = WatchClose(stream);
            var prefix = new byte[4];
            while (true)
            {
                var next = _frames.Reader.WaitToReadAsync(_stop.Token).AsTask();
                if (await Task.WhenAny(next, closed) == closed) throw new IOException("the target closed the link");
                if (!await next) break;
                while (_frames.Reader.TryRead(out var frame))
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(prefix, (uint)frame.Length);
                    await stream.WriteAsync(prefix, _stop.Token);
                    await stream.WriteAsync(frame, _stop.Token);
                }
                // Under TLS the records of what was written are held together (LinkStream) until now.
                await stream.FlushAsync(_stop.Token);
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or OperationCanceledException or AuthenticationException)
        {
            if (_stop.IsCancellationRequested) return; // disposed by its owner
            _failed = true;
            _frames.Writer.TryComplete();
            owner.Tell(new LinkFailed(this, connected, $"{host}:{port}: {e.Message}"));
        }
    }

    /// <summary>The client's side of the handshake: this node's certificate, and the listener's, which must be the cluster's.</summary>
    private async Task<Stream> Authenticate(NetworkStream network, string host, ClusterTls tls)
    {
        var buffers = new LinkStream(network, WatchBuffer);
        var stream = new SslStream(buffers, leaveInnerStreamOpen: true);
        string? refusal = null;
        try
        {
            await stream.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = host,
                ClientCertificates = [tls.Certificate],
                EnabledSslProtocols = SslProtocols.Tls13 | SslProtocols.Tls12,
                RemoteCertificateValidationCallback = (_, certificate, _, _) => (refusal = tls.Authority.Check(certificate)) is null,
            }, _stop.Token);
            buffers.HoldWrites(HeldWrites);
            return stream;
        }
        catch (AuthenticationException e) when (refusal is not null)
        {
            await stream.DisposeAsync();
            throw new AuthenticationException($"the data port is not the cluster's: {refusal}", e);
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    /// <summary>Reads until the listener closes (through the stream: with TLS, its records must not be read around it).</summary>
    private async Task WatchClose(Stream stream)
    {
        var one = new byte[1];
        try
        {
            while (await stream.ReadAsync(one, _stop.Token) > 0)
            {
                // Nothing is expected from the listener; anything it sends is ignored.
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // Reset, or disposed by the owner.
        }
    }

    public void Dispose()
    {
        _failed = true;
        _frames.Writer.TryComplete();
        _stop.Cancel();
    }
}
