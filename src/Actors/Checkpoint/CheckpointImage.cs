using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;

namespace Gpuckpt.Actors.Checkpoint;

/// <summary>The image side of a checkpoint job: opening (or reopening) it, filling it after a restart, its links.</summary>
internal static class CheckpointImage
{
    /// <summary>
    /// Re-reads the paused process, writes the metadata files not yet in the image and adopts journalled chunks, but none
    /// holding a BO <paramref name="stale"/> names (written since the chunk was). A live copy's running round writes no
    /// metadata (<paramref name="withMessages"/> false): what the process is when it stops for good goes there.
    /// </summary>
    internal static Captured CaptureAndAdopt(IGpuDriver driver, IKfdFile kfd, KfdProcessInfo info, ImageWriter writer, int chunkSize, IReadOnlyDictionary<string, ChunkSaved> saved,
        CancellationToken cancel, bool withMessages = true, Func<BoSource, bool>? stale = null)
    {
        var process = CheckpointCapture.Capture(driver, kfd, info, chunkSize);
        try
        {
            if (withMessages) WriteMessages(writer, process, cancel);
            var files = new Dictionary<string, PageFile[]>();
            var remaining = new Dictionary<string, IReadOnlyList<int>>();
            foreach (var device in process.Devices)
            {
                cancel.ThrowIfCancellationRequested();
                // A render node's BOs have a file each (thousands): they are created while the copy runs (CreateAhead).
                var pages = device.Files.Select(f => writer.OpenPages(f.FileName, f.Length)).ToArray();
                files[device.Device] = pages;
                // A journalled chunk is adopted only if its bytes still hash to what was journalled; else it is copied again.
                remaining[device.Device] = Enumerable.Range(0, device.Chunks.Count)
                    .Where(i => !(saved.TryGetValue(ChunkSaved.KeyOf(device.Device, device.Chunks[i]), out var s)
                                  && s.Length == device.Chunks[i].Length && (stale is null || !Touches(device, device.Chunks[i], stale))
                                  && pages[device.Chunks[i].FileIndex].Adopt(device.Chunks[i].FileOffset, s.Length, s.Checksum)))
                    .ToList();
            }
            return new Captured(process, files, remaining);
        }
        catch
        {
            process.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The page files of devices with many (a render node's BOs have one each) are created on a thread of their own, in
    /// the order the copy reaches them, while the copy runs: a writer finds its file there, rather than every I/O thread
    /// waiting in turn for the directory. A file the creator has not reached is created by its first write, as before; a
    /// creation that fails is left to that write, which reports it naming the file.
    /// </summary>
    internal static void CreateAhead(Captured captured)
    {
        var files = captured.Files.Values.Where(f => f.Length > 1).SelectMany(f => f).ToList();
        if (files.Count == 0) return;
        Task.Factory.StartNew(() =>
        {
            try
            {
                foreach (var file in files)
                    if (!file.Create()) return;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
            {
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>The process's KFD and render-node files, those not yet in the image.</summary>
    internal static void WriteMessages(ImageWriter writer, CapturedProcess process, CancellationToken cancel)
    {
        void Write(string name, Google.Protobuf.IMessage message)
        {
            cancel.ThrowIfCancellationRequested();
            if (!writer.Contains(name)) writer.WriteMessage(name, message);
        }
        Write(ImageFileName.Kfd(ImageIds.Kfd), process.Kfd);
        foreach (var node in process.RenderNodes) Write(ImageFileName.RenderNode((int)node.Id), node);
    }

    /// <summary>The BOs a driver's dirty bits say were written since a tick; every BO where it keeps none (or one's inode is unknown).</summary>
    internal static Func<BoSource, bool> WrittenSince(IGpuDriver driver, uint pid, ulong since) => Stale(driver.WrittenSince(pid, since));

    private static Func<BoSource, bool> Stale(DirtyWrites? dirty) =>
        dirty is null ? _ => true : bo => bo.Inode == 0 || dirty.Buffers.Contains(bo.Inode);

    /// <summary>
    /// Per device, the chunks holding a BO written since tick <paramref name="since"/> (every chunk where the driver keeps
    /// no dirty bits), and the write clock they were read at (<paramref name="since"/> then).
    /// </summary>
    internal static (IReadOnlyDictionary<string, IReadOnlyList<int>> Chunks, ulong Clock) ChunksWrittenSince(IGpuDriver driver, CapturedProcess process, ulong since)
    {
        var dirty = driver.WrittenSince(process.Pid, since);
        return (ChunksTouching(process, Stale(dirty)), dirty?.Clock ?? since);
    }

    /// <summary>Per device, the indexes of the chunks holding a BO <paramref name="stale"/> names.</summary>
    private static Dictionary<string, IReadOnlyList<int>> ChunksTouching(CapturedProcess process, Func<BoSource, bool> stale) =>
        process.Devices.ToDictionary(d => d.Device, d => (IReadOnlyList<int>)[.. Enumerable.Range(0, d.Chunks.Count).Where(i => Touches(d, d.Chunks[i], stale))]);

    /// <summary>Whether <paramref name="chunk"/> holds a piece of a BO that <paramref name="stale"/> names.</summary>
    internal static bool Touches(DeviceContents device, CopyChunk chunk, Func<BoSource, bool> stale)
    {
        foreach (var piece in chunk.Pieces)
            if (stale(device.Bos[piece.BoIndex])) return true;
        return false;
    }

    /// <summary>
    /// Whether a new capture lays the process's contents out as <paramref name="earlier"/> did: the same page files of the
    /// same lengths, chunk for chunk (a live copy's last round then keeps what the running rounds wrote).
    /// </summary>
    internal static string? LayoutChange(CapturedProcess earlier, CapturedProcess now)
    {
        if (earlier.Devices.Count != now.Devices.Count) return $"{earlier.Devices.Count} devices with contents, now {now.Devices.Count}";
        for (var d = 0; d < now.Devices.Count; d++)
        {
            var (a, b) = (earlier.Devices[d], now.Devices[d]);
            if (a.Device != b.Device) return $"device {a.Device}, now {b.Device}";
            if (!a.Files.Select(f => (f.FileName, f.Length)).SequenceEqual(b.Files.Select(f => (f.FileName, f.Length))))
                return $"{a.Device}'s page files changed (BOs were allocated, freed or resized)";
            if (!a.Chunks.Select(c => (c.FileIndex, c.FileOffset, c.Length)).SequenceEqual(b.Chunks.Select(c => (c.FileIndex, c.FileOffset, c.Length))))
                return $"{a.Device}'s BOs were laid out again";
        }
        return null;
    }

    /// <summary>The image of this job: created on first start, reopened after a crash; null when it was already committed.</summary>
    public static ImageWriter? Open(CheckpointStarted started, IGpuDriver driver)
    {
        var dir = started.Request.ImagesDir;
        var manifest = Path.Combine(dir, ImageManifest.FileName);
        if (!File.Exists(manifest))
            return ImageWriter.Create(dir, new ImageHeader(started.ImageId,
                new ImageSource(started.Driver, (int)started.Request.Pid, Environment.MachineName), driver.Topology(), started.Request.Parent));
        var existing = ManifestCodec.Load(dir);
        if (existing.ImageId != started.ImageId)
            throw new ImageException(ImageManifest.FileName, null, $"{dir} holds another image ({existing.ImageId}), not this job's");
        return existing.State == ImageState.Committed ? null : ImageWriter.Reopen(dir);
    }

    public static ImageCommitted CommittedFromManifest(CheckpointStarted started)
    {
        var manifest = ImageReader.Open(started.Request.ImagesDir).Manifest;
        var pages = manifest.Files.Where(f => ImageFileName.TryParse(f.Name)?.Kind.IsPages() == true).ToList();
        var bytes = pages.Sum(f => f.Size - 8);
        return new ImageCommitted(bytes, 0, pages.Count, ReferencedBytes(manifest));
    }

    /// <summary>Bytes of page-file segments that an incremental image reads in its parent.</summary>
    public static long ReferencedBytes(ImageManifest manifest) =>
        manifest.Files.SelectMany(f => f.Segments).Where(s => s.InParent).Sum(s => s.Length);

    public static ImageWriter? ReopenForAbort(string dir, string imageId)
    {
        if (!File.Exists(Path.Combine(dir, ImageManifest.FileName))) return null;
        var manifest = ManifestCodec.Load(dir);
        return manifest.ImageId == imageId && manifest.State == ImageState.InProgress ? ImageWriter.Reopen(dir) : null;
    }

    /// <summary>
    /// Removes the directory of this job's image unless it is committed or another image's; true when removed. A directory
    /// without a manifest is removed only when empty (the job made it and wrote nothing yet).
    /// </summary>
    public static bool RemovePartial(string dir, string imageId)
    {
        if (!Directory.Exists(dir)) return false;
        if (File.Exists(Path.Combine(dir, ImageManifest.FileName)))
        {
            var manifest = ManifestCodec.Load(dir);
            if (manifest.ImageId != imageId || manifest.State == ImageState.Committed) return false;
        }
        else if (Directory.EnumerateFileSystemEntries(dir).Any()) return false;
        Directory.Delete(dir, recursive: true);
        return true;
    }
}
