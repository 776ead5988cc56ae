using System.Net.Sockets;

namespace Gpuckpt.Host;

/// <summary>One TCP connection attempt, closed at once: whether anything listens at an address, before remoting is started.</summary>
public static class TcpProbe
{
    /// <summary>Null when something accepted the connection within <paramref name="timeout"/>; else why not, in a user's words.</summary>
    public static string? Connect(string host, int port, TimeSpan timeout)
    {
        using var tcp = new TcpClient();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            tcp.ConnectAsync(host, port, cancel.Token).AsTask().GetAwaiter().GetResult();
            return null;
        }
        catch (OperationCanceledException)
        {
            return $"nothing accepted a connection within {timeout.TotalSeconds:F0} s";
        }
        catch (SocketException e)
        {
            return e.Message.TrimEnd('.').ToLowerInvariant();
        }
    }
}
