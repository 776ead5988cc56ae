namespace Gpuckpt.Load.Comparators;

/// <summary>
/// The best plain copy of one operation's bytes in the same run: a write (the faster of dd conv=fsync and dd
/// oflag=direct conv=fsync), a read (the faster of buffered dd and dd iflag=direct) and a raw loopback TCP transfer.
/// </summary>
public sealed record RawCopyResult(long Bytes, double WriteSeconds, string WriteHow, double ReadSeconds, string ReadHow, double TransferSeconds)
{
    public double WriteGigabytesPerSecond => Bytes / WriteSeconds / 1e9;
    public double ReadGigabytesPerSecond => Bytes / ReadSeconds / 1e9;
    public double TransferGigabytesPerSecond => Bytes / TransferSeconds / 1e9;
}
