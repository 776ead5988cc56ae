namespace Gpuckpt.Load.Reports;

/// <summary>
/// One figure of a step in an earlier report and in this one. <paramref name="LowerIsBetter"/> for latencies;
/// <see cref="Verdict"/> says "faster"/"slower" past 5 %, "same" within it, "n/a" where either side has no figure.
/// </summary>
public sealed record ComparisonRow(string Scenario, string Step, string Metric, double? Old, double? New, bool LowerIsBetter)
{
    public const double Threshold = 0.05;

    /// <summary>New against old, as a fraction (+0.10: 10 % higher).</summary>
    public double? Change => Old is > 0 && New is { } n ? n / Old.Value - 1 : null;

    public string Verdict => Change switch
    {
        null => "n/a",
        var c when Math.Abs(c.Value) <= Threshold => "same",
        var c when c.Value < 0 == LowerIsBetter => "faster",
        _ => "slower",
    };
}
