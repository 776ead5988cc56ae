using Akka.Actor;

namespace Gpuckpt.Actors.Serialization;

/// <summary>
/// Akka.Serialization.Hyperion's serializer for the engine's remote messages and older journal rows, set up so that a
/// payload may name only the types of <see cref="AllowListTypeFilter"/> (the assemblies in
/// gpuckpt.serialization.allowed-assemblies and the runtime types they are made of).
/// </summary>
public sealed class HyperionSerializer : Akka.Serialization.HyperionSerializer
{
    public HyperionSerializer(ExtendedActorSystem system) : base(system, AllowListSettings(system)) { }

    private static Akka.Serialization.HyperionSerializerSettings AllowListSettings(ExtendedActorSystem system)
    {
        // Typed settings rather than HyperionSerializerSetup: every ActorSystem the engine and its specs create gets the allow-list.
        return new Akka.Serialization.HyperionSerializerSettings(
            preserveObjectReferences: true,
            versionTolerance: true,
            knownTypesProvider: Akka.Serialization.HyperionSerializerSettings.Default.KnownTypesProvider,
            packageNameOverrides: [],
            surrogates: [],
            disallowUnsafeType: true,
            typeFilter: new AllowListTypeFilter(AllowedAssemblies(system)));
    }

    private static IEnumerable<string> AllowedAssemblies(ExtendedActorSystem system)
    {
        var configured = system.Settings.Config.GetStringList("gpuckpt.serialization.allowed-assemblies", []);
        return configured.Count > 0 ? configured : ["Gpuckpt.Actors", "Gpuckpt.Engine"];
    }

    /// <summary>The id journal rows written before events moved to protobuf carry; outside Akka's reserved range (0–40).</summary>
    public override int Identifier => 4242;
}
