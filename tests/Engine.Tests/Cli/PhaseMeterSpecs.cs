using Gpuckpt.Actors.Copy;
using Gpuckpt.Host;
using Xunit;

namespace Gpuckpt.Engine.Tests.Cli;

/// <summary>A phase's bar follows its devices' bytes: never 0% while its devices are most of the way through.</summary>
public sealed class PhaseMeterSpecs
{
    [Fact]
    public void A_phase_stands_where_its_devices_stand_counting_each_device_once_at_its_latest_report()
    {
        var meter = new PhaseMeter();
        meter.Begin();
        Assert.False(meter.Measured);

        meter.Device(new DeviceProgress("renderD128", 10, 100, 1));
        meter.Device(new DeviceProgress("renderD129", 0, 300, 1));
        meter.Device(new DeviceProgress("renderD128", 91, 100, 1));
        meter.Device(new DeviceProgress("renderD129", 273, 300, 1));

        Assert.True(meter.Measured);
        Assert.Equal((364L, 400L), (meter.Done, meter.Total));
    }

    [Fact]
    public void A_new_phase_starts_unmeasured_and_counts_only_its_own_devices()
    {
        var meter = new PhaseMeter();
        meter.Begin();
        meter.Device(new DeviceProgress("gpu-1", 100, 100, 0));
        meter.Begin();

        Assert.False(meter.Measured);
        meter.Device(new DeviceProgress("gpu-2", 5, 50, 1));
        Assert.Equal((5L, 50L), (meter.Done, meter.Total));
    }
}
