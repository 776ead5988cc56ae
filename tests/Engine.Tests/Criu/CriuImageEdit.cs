using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Gpuckpt.Engine.Tests.Criu;

/// <summary>
/// Reads and edits a CRIU image directory through CRIU's own .proto files (protoc --decode / --encode): an image file is
/// two 32-bit magics, then entries, each a 32-bit little-endian length and a protobuf message.
/// </summary>
internal static partial class CriuImageEdit
{
    /// <summary>SECCOMP_RET_USER_NOTIF, as a BPF return instruction holds it: the emulated kernel's filter has one.</summary>
    private const uint RetUserNotif = 0x7fc00000;

    /// <summary>The dumped task's seccomp filters (BPF programs, oldest first), from seccomp.img.</summary>
    public static IReadOnlyList<byte[]> SeccompFilters(string images)
    {
        var (_, entries) = Read(Path.Combine(images, "seccomp.img"));
        return entries.SelectMany(e => FilterBytes().Matches(Decode("seccomp_entry", "seccomp.proto", e)))
            .Select(m => Unescape(m.Groups[1].Value)).ToList();
    }

    /// <summary>Whether a BPF program returns SECCOMP_RET_USER_NOTIF anywhere (a filter with a listener somewhere).</summary>
    public static bool NotifiesUser(byte[] bpf)
    {
        // struct sock_filter { u16 code; u8 jt, jf; u32 k; }: a return of a constant is BPF_RET|BPF_K (0x06).
        for (var i = 0; i + 8 <= bpf.Length; i += 8)
            if (BinaryPrimitives.ReadUInt16LittleEndian(bpf.AsSpan(i)) == 0x06 && BinaryPrimitives.ReadUInt32LittleEndian(bpf.AsSpan(i + 4)) == RetUserNotif)
                return true;
        return false;
    }

    /// <summary>
    /// Drops every seccomp filter from the image: the tasks' seccomp mode and filter index in each core-*.img, and the
    /// filters in seccomp.img. The emulated kernel's filter stands in for the kernel; it is not part of the process.
    /// </summary>
    public static void DropSeccomp(string images)
    {
        foreach (var core in Directory.GetFiles(images, "core-*.img"))
        {
            var (header, entries) = Read(core);
            var edited = entries.Select(e =>
            {
                var text = SeccompField().Replace(Decode("core_entry", "core.proto", e), "");
                return Encode("core_entry", "core.proto", text);
            }).ToList();
            Write(core, header, edited);
            if (edited.Any(e => SeccompField().IsMatch(Decode("core_entry", "core.proto", e))))
                throw new InvalidDataException($"{core} still names a seccomp filter");
        }
        var seccomp = Path.Combine(images, "seccomp.img");
        var (seccompHeader, _) = Read(seccomp);
        Write(seccomp, seccompHeader, [Encode("seccomp_entry", "seccomp.proto", "")]);
    }

    /// <summary>Each task's seccomp mode in the image, by core file (0: none).</summary>
    public static IReadOnlyDictionary<string, int> SeccompModes(string images) =>
        Directory.GetFiles(images, "core-*.img").ToDictionary(f => Path.GetFileName(f), f =>
        {
            var text = Decode("core_entry", "core.proto", Read(f).Entries.Single());
            var mode = ModeField().Match(text);
            return !mode.Success ? 0 : mode.Groups[1].Value switch { "disabled" => 0, "strict" => 1, "filter" => 2, var v => int.Parse(v) };
        });

    /// <summary>A bytes field as protoc's text format writes it: C escapes (octal, hex, \n, \", ...) and printable characters.</summary>
    private static byte[] Unescape(string text)
    {
        var bytes = new List<byte>();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\') { bytes.Add((byte)text[i]); continue; }
            var c = text[++i];
            if (c is >= '0' and <= '7')
            {
                var n = 0;
                for (var k = 0; k < 3 && i < text.Length && text[i] is >= '0' and <= '7'; k++, i++) n = n * 8 + (text[i] - '0');
                bytes.Add((byte)n);
                i--;
            }
            else if (c == 'x')
            {
                var n = 0;
                for (i++; i < text.Length && Uri.IsHexDigit(text[i]); i++) n = n * 16 + Convert.ToInt32(text[i].ToString(), 16);
                bytes.Add((byte)n);
                i--;
            }
            else bytes.Add(c switch { 'n' => 10, 'r' => 13, 't' => 9, 'a' => 7, 'b' => 8, 'f' => 12, 'v' => 11, _ => (byte)c });
        }
        return [.. bytes];
    }

    private static (byte[] Header, List<byte[]> Entries) Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8) throw new InvalidDataException($"{path}: {bytes.Length} bytes, shorter than an image header");
        var entries = new List<byte[]>();
        for (var at = 8; at < bytes.Length;)
        {
            if (at + 4 > bytes.Length) throw new InvalidDataException($"{path}: a torn entry length at offset {at}");
            var length = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at));
            if ((ulong)at + 4 + length > (ulong)bytes.Length) throw new InvalidDataException($"{path}: entry at offset {at} of {length} bytes runs past the end");
            entries.Add(bytes.AsSpan(at + 4, (int)length).ToArray());
            at += 4 + (int)length;
        }
        return (bytes[..8], entries);
    }

    private static void Write(string path, byte[] header, IReadOnlyList<byte[]> entries)
    {
        using var stream = new MemoryStream();
        stream.Write(header);
        Span<byte> length = stackalloc byte[4];
        foreach (var e in entries)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)e.Length);
            stream.Write(length);
            stream.Write(e);
        }
        File.WriteAllBytes(path, stream.ToArray());
    }

    private static string Decode(string message, string proto, byte[] payload) =>
        System.Text.Encoding.UTF8.GetString(Protoc($"--decode={message}", proto, payload, message));

    private static byte[] Encode(string message, string proto, string text) =>
        Protoc($"--encode={message}", proto, System.Text.Encoding.UTF8.GetBytes(text), message);

    private static byte[] Protoc(string mode, string proto, byte[] input, string message)
    {
        var start = new ProcessStartInfo("protoc") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { mode, "-I", CriuPrograms.ProtoDir, proto }) start.ArgumentList.Add(a);
        using var p = Process.Start(start) ?? throw new InvalidOperationException("protoc did not start");
        var stdout = new MemoryStream();
        var copy = p.StandardOutput.BaseStream.CopyToAsync(stdout);
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.BaseStream.Write(input);
        p.StandardInput.Close();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60))) { p.Kill(); throw new TimeoutException($"protoc {mode} {proto} did not finish"); }
        copy.Wait();
        if (p.ExitCode != 0) throw new InvalidDataException($"protoc {mode} of a {message} ({CriuPrograms.ProtoDir}/{proto}) failed: {stderr.Result}");
        return stdout.ToArray();
    }

    [GeneratedRegex(@"^\s*(old_)?seccomp_(mode|filter): .*\n", RegexOptions.Multiline)]
    private static partial Regex SeccompField();

    [GeneratedRegex(@"^\s*seccomp_mode: (\w+)", RegexOptions.Multiline)]
    private static partial Regex ModeField();

    [GeneratedRegex(@"^\s*filter: ""(.*)""\s*$", RegexOptions.Multiline)]
    private static partial Regex FilterBytes();
}
