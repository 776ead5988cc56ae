using System.Runtime.InteropServices;
using Gpuckpt.Engine.Bridge;
using Gpuckpt.Engine.Native;
using Gpuckpt.Engine.Uapi;
using Gpuckpt.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit;

namespace Gpuckpt.Engine.Tests.Bridge;

/// <summary>The bridge's wire as both ends lay it out (bridge_protocol.h), and its framing over a real SOCK_SEQPACKET pair.</summary>
public sealed class BridgeProtocolSpecs
{
    [Fact]
    public void Every_message_decodes_to_what_was_encoded()
    {
        var seed = TestSeed.Fresh();
        var r = new Random(seed);
        var because = $"seed {seed}";
        var hello = new BridgeHello(BridgeHello.CurrentProtocol, BridgeStage.Restore, r.Next(), (ulong)r.NextInt64() | 1UL << 63);
        Assert.True(hello == BridgeHello.Decode(hello.Encode()), because);
        var call = new BridgeHookCall(BridgeHook.UpdateVmaMap, r.Next(), r.Next(), -1, -r.Next(1000), (ulong)r.NextInt64() << 1, ulong.MaxValue - (ulong)r.Next(),
            $"/dev/dri/renderD{128 + r.Next(64)}");
        Assert.True(call == BridgeHookCall.Decode(call.Encode()), because);
        var reply = new BridgeReply(-r.Next(200), $"pid {r.Next()}: ≥ 4 GiB at 0x{r.NextInt64():x}", (ulong)r.NextInt64() << 3, r.Next(256));
        Assert.True(reply == BridgeReply.Decode(reply.Encode()), because);
        var body = new byte[r.Next(1, 5000)];
        r.NextBytes(body);
        var result = BridgeResult.Decode(new BridgeResult(r.Next(130), r.Next(256), body).Encode());
        Assert.Equal(body, result.Body);
        // 64-bit values survive whole: the high halves are where a 32-bit offset bug would show.
        Assert.Equal(call.PageOffset, BridgeHookCall.Decode(call.Encode()).PageOffset);
    }

    [Fact]
    public void A_kfd_op_carries_the_args_without_pointers_and_reads_back_the_kernels_answer()
    {
        var seed = TestSeed.Fresh();
        var r = new Random(seed);
        var devices = new KfdCriuDeviceBucket[2];
        var bos = new KfdCriuBoBucket[3];
        var priv = new byte[r.Next(1, 300)];
        var args = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.Checkpoint, num_devices = 2, num_bos = 3, priv_data_size = (ulong)priv.Length, pid = (uint)r.Next(), devices = 0xdead, bos = 0xbeef, priv_data = 0xf00d };
        var wire = BridgeRequests.KfdOp(r.Next(256), args, devices, bos, priv);
        Assert.Equal(BridgeRequests.KfdOpHeaderSize + 2 * 16 + 3 * 48 + priv.Length, wire.Length);
        var sent = MemoryMarshal.Read<KfdIoctlCriuArgs>(wire.AsSpan(8, BridgeRequests.KfdArgsSize));
        Assert.Equal((0UL, 0UL, 0UL), (sent.devices, sent.bos, sent.priv_data)); // the engine's addresses mean nothing in the bridge
        Assert.Equal((args.num_bos, args.pid, args.priv_data_size), (sent.num_bos, sent.pid, sent.priv_data_size));

        // What the bridge sends back: the args as the kernel left them, then the three buffers.
        var answered = args with { num_objects = (uint)r.Next(), devices = 0, bos = 0, priv_data = 0 };
        var kernelBos = Enumerable.Range(0, 3).Select(i => new KfdCriuBoBucket { addr = (ulong)r.NextInt64() << 4, size = 1UL << (33 + i), dmabuf_fd = (uint)i }).ToArray();
        var kernelPriv = new byte[priv.Length];
        r.NextBytes(kernelPriv);
        var back = new byte[BridgeRequests.KfdArgsSize + 32 + 144 + priv.Length];
        MemoryMarshal.Write(back.AsSpan(0, BridgeRequests.KfdArgsSize), in answered);
        MemoryMarshal.AsBytes(kernelBos.AsSpan()).CopyTo(back.AsSpan(BridgeRequests.KfdArgsSize + 32));
        kernelPriv.CopyTo(back.AsSpan(BridgeRequests.KfdArgsSize + 32 + 144));
        BridgeRequests.ReadKfdOpResult(back, ref args, devices, bos, priv);
        Assert.Equal(answered.num_objects, args.num_objects);
        Assert.Equal((0xdeadUL, 0xbeefUL, 0xf00dUL), (args.devices, args.bos, args.priv_data)); // the caller's own pointers stay
        Assert.Equal(kernelBos, bos);
        Assert.Equal(kernelPriv, priv);
        Assert.Throws<BridgeProtocolException>(() => BridgeRequests.ReadKfdOpResult(back.AsSpan(1), ref args, devices, bos, priv));
    }

    [Fact]
    public void Truncated_or_inconsistent_messages_are_refused_by_name()
    {
        var call = new BridgeHookCall(BridgeHook.DumpExtFile, 1, 2, 0, 0, 0, 0, "/dev/kfd").Encode();
        Assert.Contains("8-byte path", Assert.Throws<BridgeProtocolException>(() => BridgeHookCall.Decode(call.AsSpan(0, call.Length - 1))).Message);
        Assert.Throws<BridgeProtocolException>(() => BridgeHello.Decode(new byte[BridgeHello.Size - 1]));
        Assert.Throws<BridgeProtocolException>(() => BridgeReply.Decode(new BridgeReply(0, "x").Encode().AsSpan(0, BridgeReply.HeaderSize)));
        Assert.Throws<BridgeProtocolException>(() => BridgeResult.Decode(new byte[BridgeResult.HeaderSize - 1]));
    }

    private static unsafe (int, int) SocketPair()
    {
        var pair = stackalloc int[2];
        Assert.Equal(0, UnixSockets.SocketPair(UnixSockets.AF_UNIX, UnixSockets.SOCK_SEQPACKET | UnixSockets.SOCK_CLOEXEC, 0, pair));
        return (pair[0], pair[1]);
    }

    [Fact]
    public async Task A_message_of_300_fds_and_100_KiB_crosses_whole_in_packets_the_kernel_accepts()
    {
        var seed = TestSeed.Fresh();
        var r = new Random(seed);
        var dir = Directory.CreateTempSubdirectory("gpuckpt-bridge-fds-");
        var (fa, fb) = SocketPair();
        using var a = new BridgeChannel(fa);
        using var b = new BridgeChannel(fb);
        var files = Enumerable.Range(0, 300).Select(i => File.OpenHandle(Path.Combine(dir.FullName, $"f{i}"), FileMode.Create, FileAccess.ReadWrite)).ToList();
        try
        {
            var payload = new byte[100 * 1024 + r.Next(1000)];
            r.NextBytes(payload);
            // SCM_MAX_FD is 253: one sendmsg of 300 fds would fail; the channel spreads them over packets.
            var sender = Task.Run(() => a.Send(BridgeMessageType.Result, payload, files.Select(f => (int)f.DangerousGetHandle()).ToArray()));
            var message = b.Receive()!;
            await sender;
            Assert.Equal(BridgeMessageType.Result, message.Type);
            Assert.Equal(payload, message.Payload);
            Assert.Equal(300, message.Fds.Length);
            var back = new byte[4];
            for (var i = 0; i < 300; i++)
            {
                // Each received fd is the sender's file of the same index: same inode, order kept across batches.
                using var got = new SafeFileHandle(message.Fds[i], ownsHandle: true);
                RandomAccess.Write(got, BitConverter.GetBytes(i), 0);
                Assert.Equal(4, RandomAccess.Read(files[i], back, 0));
                Assert.True(i == BitConverter.ToInt32(back), $"seed {seed}: fd {i} arrived as another file");
            }
        }
        finally
        {
            foreach (var f in files) f.Dispose();
            dir.Delete(recursive: true);
        }
    }
}
