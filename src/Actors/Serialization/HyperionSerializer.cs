using Akka.Actor;
using Akka.Serialization;
using Hyperion;

namespace Gpuckpt.Actors.Serialization;

/// <summary>
/// Akka serializer over Hyperion for the engine's messages and events. A payload may name only the types of
/// <see cref="AllowListTypeFilter"/> (the project's assemblies from gpuckpt.serialization.allowed-assemblies, and the
/// runtime types they are made of); actor references travel as their path and are resolved against the receiving system.
/// </summary>
public sealed class HyperionSerializer : Akka.Serialization.Serializer
{
    private readonly Hyperion.Serializer _serializer;

    public HyperionSerializer(ExtendedActorSystem system) : base(system)
    {
        var refs = Surrogate.Create<IActorRef, ActorRefSurrogate>(
            r => new ActorRefSurrogate(Akka.Serialization.Serialization.SerializedActorPath(r)),
            s => system.Provider.ResolveActorRef(s.Path));
        _serializer = new Hyperion.Serializer(new SerializerOptions(
            versionTolerance: true,
            preserveObjectReferences: true,
            surrogates: [refs],
            serializerFactories: null,
            knownTypes: null,
            ignoreISerializable: true,
            packageNameOverrides: null,
            disallowUnsafeTypes: true,
            typeFilter: new AllowListTypeFilter(AllowedAssemblies(system))));
    }

    private static IEnumerable<string> AllowedAssemblies(ExtendedActorSystem system)
    {
        var configured = system.Settings.Config.GetStringList("gpuckpt.serialization.allowed-assemblies", []);
        return configured.Count > 0 ? configured : ["Gpuckpt.Actors", "Gpuckpt.Engine"];
    }

    /// <summary>Outside Akka's reserved range (0–40).</summary>
    public override int Identifier => 4242;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj)
    {
        using var stream = new MemoryStream();
        _serializer.Serialize(obj, stream);
        return stream.ToArray();
    }

    public override object FromBinary(byte[] bytes, Type type)
    {
        using var stream = new MemoryStream(bytes);
        return _serializer.Deserialize<object>(stream);
    }

    private sealed record ActorRefSurrogate(string Path);
}
