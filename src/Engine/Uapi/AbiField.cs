namespace Gpuckpt.Engine.Uapi;

/// <summary>One field of a kernel struct: its C name (members of unions as <c>in.handle</c>), the C# field, its offset.</summary>
public sealed record AbiField(string CName, string CsName, long Offset);
