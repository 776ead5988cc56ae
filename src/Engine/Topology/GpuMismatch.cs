namespace Gpuckpt.Engine.Topology;

/// <summary>One property that keeps an image GPU off a local GPU: equal required, or the local value must be at least the image's.</summary>
public sealed record GpuMismatch(string Property, ulong ImageValue, ulong LocalValue, bool AtLeast)
{
    public override string ToString() =>
        AtLeast ? $"{Property} {ImageValue} > {LocalValue}" : $"{Property} {ImageValue} != {LocalValue}";
}
