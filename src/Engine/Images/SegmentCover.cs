namespace Gpuckpt.Engine.Images;

/// <summary>A file's segments, checked to cover [0, size) in order with no gap and no overlap, and searchable by offset.</summary>
public sealed class SegmentCover
{
    private readonly Segment[] _segments;

    private SegmentCover(Segment[] segments) => _segments = segments;

    public IReadOnlyList<Segment> Segments => _segments;

    /// <summary>Sorts <paramref name="segments"/> and checks they tile [0, size); throws naming the first gap or overlap.</summary>
    public static SegmentCover Build(string file, long size, IEnumerable<Segment> segments)
    {
        var sorted = segments.OrderBy(s => s.Offset).ToArray();
        long expected = 0;
        foreach (var s in sorted)
        {
            if (s.Length <= 0) throw new ImageException(file, s.Offset, $"segment of length {s.Length}");
            // Checked before End is computed: a forged offset or length near 2^63 must not wrap around.
            if (s.Offset < 0 || s.Offset > size || s.Length > size - s.Offset)
                throw new ImageException(file, Math.Clamp(s.Offset, 0, size), $"segment [{s.Offset}, +{s.Length}) runs past the end of the file ({size} bytes)");
            if (s.Offset < expected)
                throw new ImageException(file, s.Offset, $"segments overlap: [{s.Offset}, {s.End}) starts before {expected}");
            if (s.Offset > expected)
                throw new ImageException(file, expected, $"bytes [{expected}, {s.Offset}) were never written (no segment covers them)");
            expected = s.End;
        }
        if (expected != size)
            throw new ImageException(file, expected, expected < size
                ? $"bytes [{expected}, {size}) were never written (no segment covers them)"
                : $"segments run past the end of the file ({size} bytes)");
        return new SegmentCover(sorted);
    }

    /// <summary>Index of the segment holding byte <paramref name="offset"/>.</summary>
    public int IndexOf(long offset)
    {
        int lo = 0, hi = _segments.Length - 1;
        while (lo <= hi)
        {
            var mid = lo + (hi - lo) / 2;
            var s = _segments[mid];
            if (offset < s.Offset) hi = mid - 1;
            else if (offset >= s.End) lo = mid + 1;
            else return mid;
        }
        throw new ArgumentOutOfRangeException(nameof(offset), offset, "outside the file");
    }
}
