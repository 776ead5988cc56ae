namespace Gpuckpt.Load.Reports;

/// <summary>The files a run can write beside its console table.</summary>
[Flags]
public enum ReportFormat
{
    None = 0,
    Md = 1,
    Csv = 2,
    Json = 4,
    Html = 8,
    All = Md | Csv | Json | Html,
}
