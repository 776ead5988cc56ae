namespace Gpuckpt.Actors.Migration;

public sealed class MigrationState
{
    public MigrationStarted? Started { get; set; }
    public MigrationCommitted? Committed { get; set; }
    public MigrationAborting? Aborting { get; set; }
    public bool UnpauseIntended { get; set; }
    public bool Unpaused { get; set; }
    public bool Released { get; set; }
    public IMigrationMessage? Finished { get; set; }

    public void Apply(IMigrationEvent e)
    {
        switch (e)
        {
            case MigrationStarted s: Started = s; break;
            case MigrationCommitted c: Committed = c; break;
            case MigrationAborting a: Aborting ??= a; break;
            case SourceUnpauseIntended: UnpauseIntended = true; break;
            case SourceUnpaused: Unpaused = true; break;
            case SourceReleased: Released = true; break;
            case MigrationFinished f: Finished = f.Outcome; break;
        }
    }
}
