using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Xunit;

namespace Gpuckpt.Engine.Tests.Copy;

/// <summary>Injected copy faults strike where they are aimed, as often as they say, and a stall ends only when cancelled.</summary>
public class ChunkFaultsSpecs
{
    private const string Gpu = "GPU 0x10";

    [Fact]
    public void A_fault_named_by_its_BO_strikes_every_chunk_of_that_BO_and_no_other_BO()
    {
        string[] one = [BoNames.Kfd(1, 0x10, 0x7f0000200000, 8192)];
        string[] ten = [BoNames.Kfd(10, 0x10, 0x7f0000a00000, 4096)];
        string[] shared = [BoNames.Kfd(0, 0x10, 0x7f0000100000, 4096), one[0], BoNames.Kfd(2, 0x10, 0x7f0000300000, 4096)];
        var fault = ChunkFault.OnBo(Gpu, "KFD BO #1", FaultSide.File, Errno.EIO, times: 2);
        var faults = new ChunkFaults([fault]);

        // KFD BO #10 starts with the same characters: it must not be taken for #1.
        Assert.Null(faults.Due(Gpu, 4, FaultSide.File, ten));
        Assert.Null(faults.Due(Gpu, 3, FaultSide.Bo, one));
        Assert.Null(faults.Due("GPU 0x11", 3, FaultSide.File, one));
        Assert.Equal(Errno.EIO, faults.Due(Gpu, 3, FaultSide.File, one));
        Assert.Equal(Errno.EIO, faults.Due(Gpu, 3, FaultSide.File, one));
        Assert.Null(faults.Due(Gpu, 3, FaultSide.File, one));
        // Another chunk holding a piece of it, shared with other BOs, is struck its own two times.
        Assert.Equal(Errno.EIO, faults.Due(Gpu, 7, FaultSide.File, shared));
        Assert.Equal(Errno.EIO, faults.Due(Gpu, 7, FaultSide.File, shared));
        Assert.Null(faults.Due(Gpu, 7, FaultSide.File, shared));
        Assert.Equal(4, faults.Hits(fault));
        Assert.Equal(2, faults.ChunksHit(fault));
    }

    [Fact]
    public void A_BO_is_named_by_its_whole_label_too()
    {
        var label = BoNames.Render(5, 128, 0x10, 0x800000000, 65536);
        var faults = new ChunkFaults([ChunkFault.OnBo("renderD128", label, FaultSide.Bo, Errno.EAGAIN, times: 1)]);

        Assert.Null(faults.Due("renderD128", 0, FaultSide.Bo, [BoNames.Render(50, 128, 0x10, 0x800000000, 65536)]));
        Assert.Equal(Errno.EAGAIN, faults.Due("renderD128", 0, FaultSide.Bo, [label]));
    }

    [Fact]
    public void Faults_on_the_same_chunk_fire_one_after_the_other()
    {
        var torn = new ChunkFault(Gpu, 2, FaultSide.File, ChunkIoException.ShortWrite, Times: 1);
        var failing = new ChunkFault(Gpu, 2, FaultSide.File, Errno.EIO, Times: 1);
        var faults = new ChunkFaults([torn, failing]);

        Assert.Equal(ChunkIoException.ShortWrite, faults.Due(Gpu, 2, FaultSide.File));
        Assert.Equal(Errno.EIO, faults.Due(Gpu, 2, FaultSide.File));
        Assert.Null(faults.Due(Gpu, 2, FaultSide.File));
    }

    [Fact]
    public async Task A_stall_ends_when_its_attempt_is_cancelled_saying_it_stalled()
    {
        var faults = new ChunkFaults([new ChunkFault(Gpu, 0, FaultSide.Bo, ChunkIoException.Stall, Times: 1)]);
        using var cancel = new CancellationTokenSource();
        var attempt = Task.Run(() => faults.At(Gpu, 0, FaultSide.Bo, "read of the BO's mapping", cancel.Token));

        await cancel.CancelAsync();

        var stalled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => attempt.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("read of the BO's mapping stalled", stalled.Message);
        Assert.Equal(1, faults.Hits(faults.Faults[0]));
    }

    [Fact]
    public void Stall_and_short_write_are_named_in_configuration()
    {
        Assert.Equal(ChunkIoException.Stall, ChunkFaults.ParseError("stall"));
        Assert.Equal(ChunkIoException.ShortWrite, ChunkFaults.ParseError("short-write"));
        Assert.Throws<ArgumentException>(() => ChunkFaults.ParseError("EPERM"));
    }
}
