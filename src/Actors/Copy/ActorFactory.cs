using Akka.Actor;

namespace Gpuckpt.Actors.Copy;

/// <summary>
/// Props that create an actor by calling a constructor directly: no expression tree to evaluate per actor, which
/// matters when a job starts one actor per BO (100 000 of them).
/// </summary>
internal sealed class ActorFactory<T>(Func<T> create) : IIndirectActorProducer where T : ActorBase
{
    public Type ActorType => typeof(T);

    public ActorBase Produce() => create();

    public void Release(ActorBase actor) { }

    public static Props Props(Func<T> create) => Akka.Actor.Props.CreateBy(new ActorFactory<T>(create));
}
