namespace Gpuckpt.Emulator;

/// <summary>What the command printed and how it ended, and which device requests reached the emulated kernel.</summary>
public sealed record EmulatedRun(int ExitCode, string Stdout, string Stderr, IReadOnlyDictionary<uint, int> Requests);
