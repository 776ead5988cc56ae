using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Xunit;

namespace Gpuckpt.Engine.Tests.Copy;

public class LazyBoMappingSpecs
{
    [Fact]
    public void A_mapping_closed_while_a_task_holds_it_is_unmapped_only_when_the_task_lets_go()
    {
        var bo = new CountingMapping();
        var lazy = new LazyBoMapping(() => bo, uses: 2);
        var task = lazy.Hold()!;
        var mapping = lazy.Get();

        // The BO's actor stops mid-copy: its task still reads the mapping.
        lazy.Dispose();
        Assert.Equal(0, bo.Unmaps);
        Assert.Null(lazy.Hold());
        Assert.Same(bo, mapping);
        task.Dispose();
        Assert.Equal(1, bo.Unmaps);
        task.Dispose();
        lazy.Dispose();
        Assert.Equal(1, bo.Unmaps);
        Assert.Throws<ObjectDisposedException>(() => lazy.Get());
    }

    private sealed class CountingMapping : IBoMapping
    {
        public int Unmaps { get; private set; }
        public ulong Size => 4096;
        public void Read(ulong offset, Span<byte> destination) => throw new InvalidOperationException("not read here");
        public void Write(ulong offset, ReadOnlySpan<byte> source) => throw new InvalidOperationException("not written here");
        public void Dispose() => Unmaps++;
    }
}
