using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Gpuckpt.Host.Resident;

/// <summary>
/// A command's side of the resident engine: when one serves the command's state directory with the same driver and
/// journal, the job runs there and the command prints its outcome; otherwise (none listens, or it serves another
/// driver or journal) the command runs the engine itself. The command's first Ctrl-C or SIGTERM is passed on to the
/// job; a second ends the command at once, which the engine takes as the command gone.
/// </summary>
public static class ResidentClient
{
    /// <summary>The job's outcome, or null when no resident engine takes it.</summary>
    public static async Task<CommandOutcome?> TryRunAsync(string stateDir, ResidentRequest request)
    {
        var path = ResidentEngine.SocketIn(stateDir);
        if (!File.Exists(path)) return null;
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path)).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            // A socket left by a resident engine that stopped: nobody serves it.
            socket.Dispose();
            return null;
        }
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        await using var writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        var gate = new object();
        try
        {
            lock (gate) writer.WriteLine(request.ToJson().ToJsonString());
        }
        catch (IOException)
        {
            // An engine that refuses this user answers and closes before it reads anything: its answer is still there
            // to read. An engine that closed without one is taken below as stopped.
        }
        using var interrupts = new Interrupts(signal =>
        {
            try
            {
                lock (gate) writer.WriteLine(new JsonObject { ["interrupt"] = signal }.ToJsonString());
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // The engine has answered and closed already.
            }
        });
        string? jobId = null;
        JsonObject answer;
        while (true)
        {
            var line = await ReadLineOrEnd(reader).ConfigureAwait(false)
                       ?? throw new IOException($"the resident engine at {path} stopped before it answered" + (jobId is null
                           ? "; `gpuckpt jobs` shows what it left"
                           : $": job {jobId} stands as it left it (a process it paused stays paused); `gpuckpt resume {jobId}` continues it, `gpuckpt abort {jobId}` ends it"));
            try
            {
                answer = JsonNode.Parse(line)!.AsObject();
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or NullReferenceException)
            {
                throw new InvalidDataException($"the resident engine at {path} answered what is not JSON: {line}", e);
            }
            if (answer["job"]?.GetValue<string>() is { } started) jobId = started;
            else break;
        }
        if (answer["declined"] is not null) return null;
        if (answer["refused"]?.GetValue<string>() is { } refused) throw new UnauthorizedAccessException(refused);
        return CommandOutcome.FromJson(answer["outcome"] as JsonObject ?? throw new InvalidDataException($"the resident engine at {path} answered no outcome: {answer.ToJsonString()}"));
    }

    /// <summary>The next line, or null at the end of the connection, however it ended (closed or reset).</summary>
    private static async Task<string?> ReadLineOrEnd(StreamReader reader)
    {
        try
        {
            return await reader.ReadLineAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            return null;
        }
    }
}
