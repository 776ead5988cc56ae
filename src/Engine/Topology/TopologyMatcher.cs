using System.Runtime.CompilerServices;

namespace Gpuckpt.Engine.Topology;

/// <summary>
/// Maps each image GPU to a distinct local GPU it fits (see <see cref="GpuCompatibility"/>). Image XGMI hives
/// (hive_id != 0) are placed as a whole, each onto one local hive of its own: the search backtracks over which local
/// hive each image hive takes, and for each choice assigns every GPU at once by bipartite matching (augmenting paths),
/// so a first choice that strands a later GPU is undone. A local GPU with the same gpu_id as the image GPU is tried
/// first, so a restore on the machine of the checkpoint keeps its ids.
/// </summary>
public static class TopologyMatcher
{
    public static TopologyMap Match(IReadOnlyList<GpuNode> image, IReadOnlyList<GpuNode> local) => Match(image, local, new StrongBox<long>());

    /// <param name="steps">Counts the (image GPU, local GPU) pairs the search tried: its cost, independent of the machine.</param>
    internal static TopologyMap Match(IReadOnlyList<GpuNode> image, IReadOnlyList<GpuNode> local, StrongBox<long> steps)
    {
        if (image.Select(g => g.GpuId).Distinct().Count() != image.Count)
            throw new ArgumentException("image topology lists a gpu_id twice", nameof(image));
        if (image.Count == 0) return new TopologyMap(new Dictionary<uint, GpuNode>(), new Dictionary<ulong, ulong>());

        // Hive members first (largest hive first), then the GPUs outside any hive.
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

        return new Search(order, local, candidates, steps).Run();
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

    /// <summary>Backtracking over image hive → local hive; a bipartite matching of all GPUs for each complete choice.</summary>
    private sealed class Search(GpuNode[] order, IReadOnlyList<GpuNode> local, int[][] candidates, StrongBox<long> steps)
    {
        private readonly ulong[] _imageHives = order.Where(g => g.HiveId != 0).Select(g => g.HiveId).Distinct().ToArray();
        private readonly ulong[] _localHives = local.Where(g => g.HiveId != 0).Select(g => g.HiveId).Distinct().ToArray();
        private readonly Dictionary<ulong, ulong> _hiveOf = new();   // image hive → local hive
        private int[]? _matched;                                      // order index → local index
        private int _unmatched = -1;                                  // order index left over by the last failed matching

        public TopologyMap Run()
        {
            if (!Place(0)) throw Failure();
            return new TopologyMap(
                Enumerable.Range(0, order.Length).ToDictionary(i => order[i].GpuId, i => local[_matched![i]]),
                new Dictionary<ulong, ulong>(_hiveOf));
        }

        private bool Place(int hive)
        {
            if (hive == _imageHives.Length) return Assign(Enumerable.Range(0, order.Length));
            var members = Enumerable.Range(0, order.Length).Where(i => order[i].HiveId == _imageHives[hive]).ToArray();
            foreach (var target in _localHives)
            {
                if (_hiveOf.ContainsValue(target)) continue;
                _hiveOf[_imageHives[hive]] = target;
                // The hive alone must fit its local hive before the rest is worth trying.
                if (Assign(members) && Place(hive + 1)) return true;
                _hiveOf.Remove(_imageHives[hive]);
            }
            if (_unmatched < 0) _unmatched = members[0];
            return false;
        }

        private bool Allowed(int i, int j) =>
            order[i].HiveId == 0 || (_hiveOf.TryGetValue(order[i].HiveId, out var t) && local[j].HiveId == t);

        /// <summary>Kuhn's augmenting paths over <paramref name="which"/>; true when every one of them gets a local GPU.</summary>
        private bool Assign(IEnumerable<int> which)
        {
            var owner = new int[local.Count];
            Array.Fill(owner, -1);
            var matched = new int[order.Length];
            Array.Fill(matched, -1);
            foreach (var i in which)
            {
                if (Augment(i, owner, matched, new bool[local.Count])) continue;
                _unmatched = i;
                return false;
            }
            _matched = matched;
            return true;
        }

        private bool Augment(int i, int[] owner, int[] matched, bool[] seen)
        {
            foreach (var j in candidates[i])
            {
                steps.Value++;
                if (seen[j] || !Allowed(i, j)) continue;
                seen[j] = true;
                if (owner[j] >= 0 && !Augment(owner[j], owner, matched, seen)) continue;
                owner[j] = i;
                matched[i] = j;
                return true;
            }
            return false;
        }

        private TopologyMismatchException Failure()
        {
            var i = Math.Max(_unmatched, 0);
            var g = order[i];
            if (g.HiveId != 0)
            {
                var size = order.Count(o => o.HiveId == g.HiveId);
                return new TopologyMismatchException(g.GpuId,
                    $"image GPU 0x{g.GpuId:x}: no local GPU matches: its XGMI hive 0x{g.HiveId:x} has {size} GPUs " +
                    "and no local hive of its own has that many matching GPUs free");
            }
            var fits = string.Join(", ", candidates[i].Select(j => $"0x{local[j].GpuId:x}"));
            return new TopologyMismatchException(g.GpuId,
                $"image GPU 0x{g.GpuId:x}: no local GPU matches: every local GPU it fits ({fits}) is needed by another image GPU");
        }
    }
}
