namespace Gpuckpt.Load.Statistics;

/// <summary>The warm-up: reported, never counted in the measured statistics.</summary>
public sealed record WarmUpResult(double Seconds, long Ok, long Failed, double? MeanMs);
