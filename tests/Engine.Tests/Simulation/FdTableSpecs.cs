using Gpuckpt.Simulator.Model;
using Xunit;

namespace Gpuckpt.Engine.Tests.Simulation;

/// <summary>The simulator numbers fds as open(2) does: the lowest free number from 3 up, whatever the table's size.</summary>
public sealed class FdTableSpecs
{
    [Fact]
    public void A_closed_number_is_handed_out_again_lowest_first()
    {
        var table = new FdTable();
        var fds = Enumerable.Range(0, 10).Select(_ => table.AddRender(1, 128, 0)).ToList();
        Assert.Equal(Enumerable.Range(3, 10), fds);

        table.Close(9);
        table.Close(5);
        table.Close(7);
        Assert.Equal([5, 7, 9, 13], Enumerable.Range(0, 4).Select(_ => table.AddRender(1, 128, 0)));

        table.CloseAll();
        Assert.Equal(3, table.AddRender(1, 128, 0));
    }
}
