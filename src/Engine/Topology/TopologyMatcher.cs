namespace Gpuckpt.Engine.Topology;

/// <summary>
/// Maps each image GPU to a distinct local GPU it fits (see <see cref="GpuCompatibility"/>). Image XGMI hives
/// (hive_id != 0) are placed first, each as a whole onto one local hive of its own; the other GPUs take any free
/// local GPU. The search backtracks, so a first choice that strands a later GPU is undone. A local GPU with the same
/// gpu_id as the image GPU is tried first, so a restore on the machine of the checkpoint keeps its ids.
/// </summary>
public static class TopologyMatcher
{
    public static TopologyMap Match(IReadOnlyList<GpuNode> image, IReadOnlyList<GpuNode> local)
    {
        if (image.Select(g => g.GpuId).Distinct().Count() != image.Count)
            throw new ArgumentException("image topology lists a gpu_id twice", nameof(image));
        if (image.Count == 0) return new TopologyMap(new Dictionary<uint, GpuNode>(), new Dictionary<ulong, ulong>());

        // Hives first (largest first: they are the hardest to place), then the GPUs outside any hive.
        var order = image.Where(g => g.HiveId != 0).GroupBy(g => g.HiveId).OrderByDescending(h => h.Count())
            .SelectMany(h => h).Concat(image.Where(g => g.HiveId == 0)).ToArray();

        if (image.Count > local.Count)
            throw new TopologyMismatchException(order[^1].GpuId,
                $"image GPU 0x{order[^1].GpuId:x}: no local GPU left: the image has {image.Count} GPUs, this machine {local.Count}");

        var candidates = new int[order.Length][];
        for (var i = 0; i < order.Length; i++)
        {
            var g = order[i];
            candidates[i] = Enumerable.Range(0, local.Count)
                .Where(j => GpuCompatibility.Fits(g, local[j]) && (g.HiveId == 0 || local[j].HiveId != 0))
                .OrderBy(j => local[j].GpuId == g.GpuId ? 0 : 1).ThenBy(j => j)
                .ToArray();
            if (candidates[i].Length == 0) throw NoMatch(g, local);
        }

        var search = new Search(order, local, candidates);
        if (!search.Place(0)) throw search.Failure();
        return search.Result();
    }

    private static TopologyMismatchException NoMatch(GpuNode g, IReadOnlyList<GpuNode> local)
    {
        var closest = local.Select(l => (Local: l, Why: GpuCompatibility.Mismatches(g, l)))
            .OrderBy(c => c.Why.Count).First();
        var why = closest.Why.Count > 0
            ? $"{closest.Why[0]} on local 0x{closest.Local.GpuId:x}"
            : $"local 0x{closest.Local.GpuId:x} is in no XGMI hive, image hive 0x{g.HiveId:x} needs one";
        return new TopologyMismatchException(g.GpuId, $"image GPU 0x{g.GpuId:x}: no local GPU matches: {why}");
    }

    /// <summary>Depth-first assignment with undo; remembers the deepest GPU it could not place for the error.</summary>
    private sealed class Search(GpuNode[] order, IReadOnlyList<GpuNode> local, int[][] candidates)
    {
        private readonly int[] _assigned = new int[order.Length];
        private readonly bool[] _taken = new bool[local.Count];
        private readonly Dictionary<ulong, ulong> _hiveOf = new();   // image hive → local hive
        private readonly HashSet<ulong> _localHivesUsed = [];
        private int _deepest = -1;

        public bool Place(int i)
        {
            if (i == order.Length) return true;
            var g = order[i];
            foreach (var j in candidates[i])
            {
                if (_taken[j]) continue;
                var opensHive = false;
                if (g.HiveId != 0)
                {
                    var target = local[j].HiveId;
                    if (_hiveOf.TryGetValue(g.HiveId, out var chosen))
                    {
                        if (chosen != target) continue;
                    }
                    else
                    {
                        if (_localHivesUsed.Contains(target) || FreeIn(target) < order.Count(o => o.HiveId == g.HiveId)) continue;
                        _hiveOf[g.HiveId] = target;
                        _localHivesUsed.Add(target);
                        opensHive = true;
                    }
                }
                _taken[j] = true;
                _assigned[i] = j;
                if (Place(i + 1)) return true;
                _taken[j] = false;
                if (opensHive)
                {
                    _localHivesUsed.Remove(_hiveOf[g.HiveId]);
                    _hiveOf.Remove(g.HiveId);
                }
            }
            _deepest = Math.Max(_deepest, i);
            return false;
        }

        private int FreeIn(ulong localHive) => Enumerable.Range(0, local.Count).Count(j => !_taken[j] && local[j].HiveId == localHive);

        public TopologyMap Result() => new(
            Enumerable.Range(0, order.Length).ToDictionary(i => order[i].GpuId, i => local[_assigned[i]]),
            new Dictionary<ulong, ulong>(_hiveOf));

        public TopologyMismatchException Failure()
        {
            var g = order[Math.Max(_deepest, 0)];
            if (g.HiveId != 0)
            {
                var size = order.Count(o => o.HiveId == g.HiveId);
                return new TopologyMismatchException(g.GpuId,
                    $"image GPU 0x{g.GpuId:x}: no local GPU matches: its XGMI hive 0x{g.HiveId:x} has {size} GPUs " +
                    "and no local hive of its own has that many matching GPUs free");
            }
            var fits = string.Join(", ", candidates[Math.Max(_deepest, 0)].Select(j => $"0x{local[j].GpuId:x}"));
            return new TopologyMismatchException(g.GpuId,
                $"image GPU 0x{g.GpuId:x}: no local GPU matches: every local GPU it fits ({fits}) is needed by another image GPU");
        }
    }
}
