namespace Gpuckpt.Actors;

/// <summary>What happens where the engine reaches a crash point: only a test build registers one (see <see cref="CrashPoints"/>).</summary>
public interface ICrashHook
{
    void Hit(string name);
}
