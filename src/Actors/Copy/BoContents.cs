using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Copy;

/// <summary>The contents side of a BO actor: where its bytes live and how many pieces of them this copy moves.</summary>
/// <param name="Index">The BO's index in its device's plan.</param>
public sealed record BoContents(int Index, BoSource Source, int Pieces, bool Saving, Func<BoSource, Engine.Devices.IBoMapping> Map) : INoSerializationVerificationNeeded;
