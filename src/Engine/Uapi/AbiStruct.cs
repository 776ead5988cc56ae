namespace Gpuckpt.Engine.Uapi;

/// <summary>A kernel struct or union as the engine declares it: C tag, C# type, size and every field's offset.</summary>
public sealed record AbiStruct(string Name, string CType, Type ClrType, long Size, IReadOnlyList<AbiField> Fields, string Origin);
