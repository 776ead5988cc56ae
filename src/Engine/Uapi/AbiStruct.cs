namespace Gpuckpt.Engine.Uapi;

/// <summary>One field of a kernel struct: its C name (members of unions as <c>in.handle</c>), the C# field, its offset.</summary>
public sealed record AbiField(string CName, string CsName, long Offset);

/// <summary>A kernel struct or union as the engine declares it: C tag, C# type, size and every field's offset.</summary>
public sealed record AbiStruct(string Name, string CType, Type ClrType, long Size, IReadOnlyList<AbiField> Fields, string Origin);

/// <summary>A named number of the kernel interface: an ioctl request, an op enum value or a flag.</summary>
public sealed record AbiValue(string Name, ulong Value, string Origin);
