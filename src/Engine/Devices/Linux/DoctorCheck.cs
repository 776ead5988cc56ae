namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>One thing a backend needs from this machine: whether it is there, what was found, and how to get it when not.</summary>
public sealed record DoctorCheck(string Name, bool Ok, string Detail, string? Fix = null);
