namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>
/// The CRIU this machine has for whole-process checkpoints: where, which version, which of the bridge's hooks it calls,
/// what <c>criu check</c> said, each as a doctor check, and how to install it.
/// </summary>
public sealed record CriuReport(
    string? Path,
    Version? Version,
    IReadOnlyList<string> HooksCalled,
    IReadOnlyList<string> HooksMissing,
    bool CheckOk,
    string CheckVerdict,
    IReadOnlyList<DoctorCheck> Checks)
{
    /// <summary>Builds CRIU 4.2 from Debian unstable's source package and installs it (run from a gpuckpt source tree, as root).</summary>
    public const string InstallCommand = "bash .ci/install-criu";

    /// <summary>Found, 4.2 or later, and <c>criu check</c> content.</summary>
    public bool Usable => Checks.All(c => c.Ok);

    public IEnumerable<DoctorCheck> Missing => Checks.Where(c => !c.Ok);
}
