namespace Gpuckpt.Engine.Uapi;

/// <summary>A named number of the kernel interface: an ioctl request, an op enum value or a flag.</summary>
public sealed record AbiValue(string Name, ulong Value, string Origin);
