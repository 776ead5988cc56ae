namespace Gpuckpt.Actors.Tests.Faults;

/// <summary>
/// The fault table: one row per fault tried in one phase, written to faults.md in the report directory
/// (GPUCKPT_REPORT_DIR, which tests/run sets and prints). Rows from every spec that injects faults go to one file.
/// </summary>
public static class FaultReport
{
    private static readonly Lock Gate = new();

    public sealed record Row(string Fault, string Phase, string Outcome, int Unpauses, int Resumes, int WronglyCommitted, long BytesLost, bool Pass);

    public static string File
    {
        get
        {
            var dir = Environment.GetEnvironmentVariable("GPUCKPT_REPORT_DIR") is { Length: > 0 } d ? d : Path.Combine(Path.GetTempPath(), "gpuckpt-reports");
            Directory.CreateDirectory(dir);
            return Path.Combine(dir, "faults.md");
        }
    }

    public static void Add(Row row)
    {
        lock (Gate)
        {
            var path = File;
            if (!System.IO.File.Exists(path))
                System.IO.File.WriteAllText(path,
                    "# Fault table\n\nEach row: a fault injected in one phase of a job, what the job ended with, UNPAUSEs and RESUMEs that took effect,\n" +
                    "images reported committed that should not be, bytes of the process or image lost.\n\n" +
                    "| fault | phase | outcome | unpauses | resumes | wrongly committed | bytes lost | pass |\n|---|---|---|---:|---:|---:|---:|---|\n");
            System.IO.File.AppendAllText(path,
                $"| {row.Fault} | {row.Phase} | {row.Outcome.Replace('|', '/').ReplaceLineEndings(" ")} | {row.Unpauses} | {row.Resumes} | {row.WronglyCommitted} | {row.BytesLost} | {(row.Pass ? "pass" : "FAIL")} |\n");
        }
    }
}
