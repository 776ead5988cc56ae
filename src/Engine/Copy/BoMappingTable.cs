using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Engine.Copy;

/// <summary>
/// The CPU mappings of one device's BOs during a copy: each is opened by the first chunk that needs it and
/// closed when its last chunk is done, so only the BOs in flight are mapped.
/// </summary>
public sealed class BoMappingTable : IDisposable
{
    private readonly Func<int, IBoMapping> _open;
    private readonly Dictionary<int, int> _chunksLeft = new();
    private readonly Dictionary<int, IBoMapping> _mapped = new();
    private readonly object _gate = new();

    /// <param name="chunks">Every chunk that will go through this table (decides when a mapping can close).</param>
    /// <param name="open">Opens the mapping of a BO by its index.</param>
    public BoMappingTable(IEnumerable<CopyChunk> chunks, Func<int, IBoMapping> open)
    {
        _open = open;
        foreach (var chunk in chunks)
        foreach (var piece in chunk.Pieces)
            _chunksLeft[piece.BoIndex] = _chunksLeft.GetValueOrDefault(piece.BoIndex) + 1;
    }

    public IBoMapping Get(int boIndex)
    {
        lock (_gate)
        {
            if (_mapped.TryGetValue(boIndex, out var mapping)) return mapping;
            mapping = _open(boIndex);
            _mapped[boIndex] = mapping;
            return mapping;
        }
    }

    /// <summary>Marks every piece of the chunk done; a BO whose pieces are all done is unmapped.</summary>
    public void Release(CopyChunk chunk)
    {
        List<IBoMapping>? done = null;
        lock (_gate)
        {
            foreach (var piece in chunk.Pieces)
            {
                var left = _chunksLeft[piece.BoIndex] - 1;
                _chunksLeft[piece.BoIndex] = left;
                if (left == 0 && _mapped.Remove(piece.BoIndex, out var mapping)) (done ??= []).Add(mapping);
            }
        }
        done?.ForEach(m => m.Dispose());
    }

    public void Dispose()
    {
        List<IBoMapping> all;
        lock (_gate)
        {
            all = [.. _mapped.Values];
            _mapped.Clear();
        }
        all.ForEach(m => m.Dispose());
    }
}
