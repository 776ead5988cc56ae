using Akka.Configuration;

namespace Gpuckpt.Actors;

/// <summary>How a client waits on a job (gpuckpt.jobs.wait): what bounds the wait is silence, never the job's length.</summary>
/// <param name="PingEvery">How often the actor waited on is asked whether it is there.</param>
/// <param name="Silence">The wait is given up on when that actor has answered nothing for this long.</param>
/// <param name="AnswerGrace">After the job's actor stops, how long the jobs actor's answer for it (with the reason) is waited for.</param>
/// <param name="JournalAnswer">How long a command waits on one answer of the journal (a claim made or let go, a snapshot read).</param>
public sealed record JobWaitSettings(TimeSpan PingEvery, TimeSpan Silence, TimeSpan AnswerGrace, TimeSpan JournalAnswer)
{
    public static readonly JobWaitSettings Default = new(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30));

    public static JobWaitSettings From(Config config) => new(
        config.GetTimeSpan("gpuckpt.jobs.wait.ping-every", Default.PingEvery),
        config.GetTimeSpan("gpuckpt.jobs.wait.silence", Default.Silence),
        config.GetTimeSpan("gpuckpt.jobs.wait.answer-grace", Default.AnswerGrace),
        config.GetTimeSpan("gpuckpt.jobs.wait.journal-answer", Default.JournalAnswer));
}
