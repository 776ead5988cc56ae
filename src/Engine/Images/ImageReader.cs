using Google.Protobuf;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// Opens a committed image for restore. Open checks the manifest, the state and every file's presence, size and
/// segment cover; each read then checks the checksums of what it reads.
/// </summary>
public sealed class ImageReader
{
    private readonly Dictionary<string, (ManifestFile Entry, SegmentCover Cover)> _files;
    private readonly IReadOnlyDictionary<string, IMessage>? _messages;
    private long _metadataBytesRead;

    private ImageReader(string directory, ImageManifest manifest, Dictionary<string, (ManifestFile, SegmentCover)> files, ImageReader? parent,
        IReadOnlyDictionary<string, IMessage>? messages = null)
    {
        Directory = directory;
        Manifest = manifest;
        _files = files;
        Parent = parent;
        _messages = messages;
    }

    /// <summary>
    /// An image a verify accepted (<see cref="ImageVerifier.VerifyAllButContents"/>): its manifest and metadata files as
    /// that verify read them, its files' sizes, prefixes and covers as it checked them. Nothing is read again but the
    /// contents, which each read checks.
    /// </summary>
    public static ImageReader Open(string dir, VerifiedImage verified)
    {
        var manifest = verified.Manifest;
        if (manifest.Parent is not null) throw new ArgumentException("an image with a parent is opened from its directory", nameof(verified));
        var files = manifest.Files.ToDictionary(f => f.Name, f => (f, SegmentCover.Build(f.Name, f.Size, f.Segments)), StringComparer.Ordinal);
        return new ImageReader(Path.GetFullPath(dir), manifest, files, null, verified.Messages) { Verified = true };
    }

    /// <summary>Opened from a verify's <see cref="VerifiedImage"/>: <see cref="CheckLayout"/> has nothing left to check.</summary>
    public bool Verified { get; private init; }

    public string Directory { get; }

    /// <summary>The parent of an incremental image (opened, and its own parent, as far as the chain goes); null for a whole image.</summary>
    public ImageReader? Parent { get; }

    public ImageManifest Manifest { get; }

    /// <summary>File names of one kind, in name order.</summary>
    public IReadOnlyList<string> FilesOf(ImageFileKind kind) =>
        [.. Manifest.Files.Select(f => f.Name).Where(n => ImageFileName.TryParse(n)?.Kind == kind)];

    public static ImageReader Open(string dir)
    {
        var manifest = ManifestCodec.Load(dir);
        RequireCommitted(manifest);
        var files = new Dictionary<string, (ManifestFile, SegmentCover)>();
        foreach (var f in manifest.Files)
        {
            long length;
            using (var handle = ImageFiles.OpenRead(dir, f.Name)) length = RandomAccess.GetLength(handle);
            if (length != f.Size)
                throw new ImageException(f.Name, Math.Min(length, f.Size), length < f.Size
                    ? $"truncated: {length} bytes, the manifest says {f.Size}"
                    : $"{length} bytes, the manifest says {f.Size}");
            files[f.Name] = (f, SegmentCover.Build(f.Name, f.Size, f.Segments));
        }
        return new ImageReader(Path.GetFullPath(dir), manifest, files, OpenParent(dir, manifest));
    }

    /// <summary>
    /// The parent an incremental image recorded, checked to be that very image, holding every chunk the child
    /// references, and opened in turn (its own parent too); errors name the parent's files by their full path.
    /// </summary>
    private static ImageReader? OpenParent(string dir, ImageManifest manifest)
    {
        if (manifest.Parent is not { } recorded) return null;
        var parent = ParentImage.Open(Path.GetFullPath(dir), recorded);
        parent.CheckReferences(manifest);
        try
        {
            return Open(parent.Directory);
        }
        catch (ImageException e)
        {
            throw ParentImage.Within(parent.Directory, e);
        }
    }

    internal static void RequireCommitted(ImageManifest manifest)
    {
        switch (manifest.State)
        {
            case ImageState.Committed:
                return;
            case ImageState.InProgress:
                throw new ImageException(ImageManifest.FileName, null, "image is in-progress, not committed (its writer is still running or died)");
            default:
                throw new ImageException(ImageManifest.FileName, null, $"image is {manifest.State.ToString().ToLowerInvariant()}, not committed: {manifest.FailureReason}");
        }
    }

    /// <summary>Bytes of metadata read so far: message files whole, the length prefixes of page files.</summary>
    public long MetadataBytesRead => Interlocked.Read(ref _metadataBytesRead);

    /// <summary>
    /// Checks what a restore needs before it touches a device, short of the contents: no stray amdgpu file, and the
    /// length prefix of every pages file equal to its size (message files are checked whole by <see cref="Read{T}"/>).
    /// </summary>
    public void CheckLayout()
    {
        if (Verified) return;
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory, "amdgpu-*").Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(path);
            if (!_files.ContainsKey(name)) throw new ImageException(name, null, "not listed in the manifest (left over from another image?)");
        }
        foreach (var (entry, _) in _files.Values)
        {
            if (!ImageFileName.Parse(entry.Name).Kind.IsPages()) continue;
            using var handle = ImageFiles.OpenRead(Directory, entry.Name);
            SegmentIo.CheckPrefix(handle, entry.Name, RandomAccess.GetLength(handle));
            Interlocked.Add(ref _metadataBytesRead, LengthPrefix.Size);
        }
    }

    /// <summary>Reads one protobuf file, checking its checksum, its length prefix and the parse.</summary>
    public T Read<T>(string fileName, MessageParser<T> parser) where T : IMessage<T>
    {
        var (entry, cover) = Find(fileName);
        if (_messages?.GetValueOrDefault(fileName) is { } verified)
            return verified is T message ? message : throw new ImageException(fileName, null, $"holds {verified.GetType().Name}, not {typeof(T).Name}");
        if (entry.Size > MessageFiles.MaxFileSize)
            throw new ImageException(fileName, null, $"{entry.Size} bytes: a message file is at most {MessageFiles.MaxFileSize}");
        byte[] bytes;
        using (var handle = ImageFiles.OpenRead(Directory, fileName))
        {
            var length = RandomAccess.GetLength(handle);
            if (length != entry.Size)
                throw new ImageException(fileName, Math.Min(length, entry.Size), $"{length} bytes, the manifest says {entry.Size}");
            bytes = new byte[length];
            SegmentIo.ReadExactly(handle, fileName, bytes, 0);
        }
        Interlocked.Add(ref _metadataBytesRead, bytes.Length);
        foreach (var s in cover.Segments)
            SegmentIo.Check(fileName, s, System.IO.Hashing.XxHash64.HashToUInt64(bytes.AsSpan((int)s.Offset, (int)s.Length)));
        return MessageFiles.Parse(fileName, bytes, parser);
    }

    /// <summary>Large segments of page files are read with O_DIRECT where the filesystem allows (see <see cref="PageFileReader"/>).</summary>
    public bool DirectIo { get; set; } = true;

    /// <summary>Large segments read through the page cache are dropped from it once checked (see <see cref="PageFileReader"/>).</summary>
    public bool DropBehind { get; set; }

    public PageFileReader OpenPages(string fileName)
    {
        var (entry, cover) = Find(fileName);
        if (!ImageFileName.Parse(fileName).Kind.IsPages()) throw new ImageException(fileName, null, "not a pages file");
        if (!cover.Segments.Any(s => s.InParent)) return new PageFileReader(Directory, entry, cover, LeafHash.Of(Manifest.FormatVersion), DirectIo, dropBehind: DropBehind);
        Parent!.DirectIo = DirectIo;
        Parent.DropBehind = DropBehind;
        var parent = Parent.OpenPagesWithin(fileName);
        try
        {
            return new PageFileReader(Directory, entry, cover, LeafHash.Of(Manifest.FormatVersion), DirectIo, parent, DropBehind);
        }
        catch
        {
            parent.Dispose();
            throw;
        }
    }

    private PageFileReader OpenPagesWithin(string fileName)
    {
        try
        {
            return OpenPages(fileName);
        }
        catch (ImageException e)
        {
            throw ParentImage.Within(Directory, e);
        }
    }

    public bool Contains(string fileName) => _files.ContainsKey(fileName);

    private (ManifestFile, SegmentCover) Find(string fileName) =>
        _files.TryGetValue(fileName, out var f) ? f : throw new ImageException(fileName, null, "not in this image");
}
