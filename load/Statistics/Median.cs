namespace Gpuckpt.Load.Statistics;

/// <summary>
/// The median of a few runs' figures: the middle one of an odd count, the mean of the two middle ones of an even count
/// (the upper of the two would favour whichever way a figure leans: a rate upward, a time downward).
/// </summary>
public static class Median
{
    public static double Of(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) throw new ArgumentException("no values to take the median of", nameof(values));
        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    public static double Of<T>(IEnumerable<T> rows, Func<T, double> figure) => Of(rows.Select(figure));
}
