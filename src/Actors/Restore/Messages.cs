using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Restore;

internal sealed record Planned(RestorePlan Plan) : INoSerializationVerificationNeeded;

internal sealed record TargetReady(RestoreSession Session) : INoSerializationVerificationNeeded;

internal sealed record KfdRestored : INoSerializationVerificationNeeded;

internal sealed record ContentsChecked : INoSerializationVerificationNeeded;

internal sealed record ContentsOpened(IReadOnlyList<DeviceContents> Contents, IReadOnlyList<Engine.Images.PageFileReader[]> Sources) : INoSerializationVerificationNeeded;

internal sealed record Reattached(RestoreSession Session) : INoSerializationVerificationNeeded;

internal sealed record Discarded(string? Problem) : INoSerializationVerificationNeeded;

internal sealed record ResumeDone(bool TookEffect) : INoSerializationVerificationNeeded;

internal sealed record RolledBack(string Reason) : INoSerializationVerificationNeeded;
