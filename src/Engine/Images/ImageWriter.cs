using System.IO.Hashing;
using System.Reflection;
using Google.Protobuf;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// Writes one image directory. The manifest exists from the first moment, as in-progress, so an image whose writer
/// crashed can never be taken for a whole one; <see cref="Commit"/> is the single atomic step that makes it whole.
/// </summary>
public sealed class ImageWriter : IDisposable
{
    private readonly Lock _gate = new();
    private readonly Lock _creates = new(); // held while a page file is created (see PageFile)
    private readonly Dictionary<string, ManifestFile> _messages = [];
    private readonly Dictionary<string, PageFile> _pages = [];
    private readonly HashSet<string> _claimed = [];
    private readonly HashSet<string> _leftOver = [];
    private readonly Dictionary<string, string> _messageDigests = new(StringComparer.Ordinal); // each metadata file's digest, from its bytes
    private readonly ImageManifest _started;
    private readonly ParentImage? _parent;
    private bool _finished;

    private ImageWriter(string directory, ImageManifest started, ParentImage? parent)
    {
        Directory = directory;
        _started = started;
        _parent = parent;
    }

    public string Directory { get; }

    public string ImageId => _started.ImageId;

    /// <summary>Page files of 1 MiB and more are written with O_DIRECT where the filesystem allows (see <see cref="PageFile"/>).</summary>
    public bool DirectIo { get; set; } = true;

    /// <summary>
    /// Page files keep the leaves of their digests as pieces are written, for <see cref="Commit"/> to sign; off for an
    /// image that will not be signed, whose every byte would otherwise be hashed a second time for nothing.
    /// </summary>
    public bool KeepDigests { get; set; } = true;

    /// <summary>Page files pack each piece with LZ4 where that saves an eighth of it or more (see <see cref="PackedSegment"/>).</summary>
    public bool Pack { get; set; }

    public static string ToolVersion { get; } =
        typeof(ImageWriter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";

    /// <summary>Creates <paramref name="dir"/> (absent or empty) and writes its manifest as in-progress.</summary>
    public static ImageWriter Create(string dir, ImageHeader header)
    {
        var full = Path.GetFullPath(dir);
        if (System.IO.Directory.Exists(full) && System.IO.Directory.EnumerateFileSystemEntries(full).Any())
            throw new ImageException(dir, null, "image directory is not empty");
        // Checked before the directory exists: a parent that is missing or not committed leaves nothing behind.
        var parentImage = header.Parent is null ? null : ParentImage.Identify(header.Parent, full);
        ImageFiles.CreateDirectory(full);
        var parent = Path.GetDirectoryName(full.TrimEnd(Path.DirectorySeparatorChar));
        var manifest = new ImageManifest
        {
            ToolVersion = ToolVersion,
            ImageId = header.ImageId,
            Created = DateTimeOffset.UtcNow,
            Source = header.Source,
            Topology = header.Topology,
            State = ImageState.InProgress,
            Parent = parentImage?.Identity,
        };
        ManifestCodec.Store(full, manifest);
        if (parent is not null) FileSync.Directory(parent);
        return new ImageWriter(full, manifest, parentImage);
    }

    /// <summary>
    /// Reopens an in-progress image whose writer died, to finish it. Message files that were fully written are kept
    /// (see <see cref="Contains"/>); torn ones are deleted. Page files stay on disk until <see cref="OpenPages"/>
    /// reopens them, whereupon <see cref="PageFile.Adopt"/> takes over each piece that survived.
    /// </summary>
    public static ImageWriter Reopen(string dir)
    {
        var full = Path.GetFullPath(dir);
        var manifest = ManifestCodec.Load(full);
        if (manifest.State != ImageState.InProgress)
            throw new ImageException(ImageManifest.FileName, null, $"image is {ImageInspector.StateName(manifest.State)}: only an in-progress image can be reopened");
        // Finished by this build, in its format (an older writer's in-progress manifest holds no digests yet).
        var writer = new ImageWriter(full, manifest with { FormatVersion = ImageManifest.CurrentFormatVersion },
            manifest.Parent is { } recorded ? ParentImage.Open(full, recorded) : null);
        foreach (var path in System.IO.Directory.EnumerateFiles(full, "amdgpu-*"))
        {
            var name = Path.GetFileName(path);
            var kind = ImageFileName.TryParse(name)?.Kind;
            if (kind is null) continue;
            if (kind.Value.IsPages())
            {
                writer._leftOver.Add(name);
                continue;
            }
            var bytes = File.ReadAllBytes(path);
            try
            {
                MessageFiles.ParseAny(name, bytes, MessageFiles.ParserFor(kind.Value)!);
                writer._claimed.Add(name);
                writer._messages[name] = MessageEntry(name, bytes);
                writer._messageDigests[name] = MessageDigest(writer._messages[name], bytes);
            }
            catch (ImageException)
            {
                File.Delete(path); // torn by the crash: the engine writes it again
            }
        }
        FileSync.Directory(full);
        return writer;
    }

    /// <summary>True when <paramref name="fileName"/> is already written whole (in a reopened image: before the crash).</summary>
    public bool Contains(string fileName)
    {
        lock (_gate) return _messages.ContainsKey(fileName);
    }

    /// <summary>Writes a length-prefixed protobuf file (CriuKfd, CriuRenderNode or CriuDmabufNode), checksummed and fsynced.</summary>
    public void WriteMessage(string fileName, IMessage message)
    {
        var kind = Claim(fileName).Kind;
        var expected = kind switch
        {
            ImageFileKind.Kfd => typeof(Proto.CriuKfd),
            ImageFileKind.RenderNode => typeof(Proto.CriuRenderNode),
            ImageFileKind.Dmabuf => typeof(Proto.CriuDmabufNode),
            _ => null,
        };
        if (expected != message.GetType())
        {
            Release(fileName);
            throw new ArgumentException($"{fileName}: a {kind} file holds {expected?.Name ?? "raw pages"}, not {message.GetType().Name}");
        }
        var missing = RequiredFields.Missing(message);
        if (missing.Count > 0)
        {
            Release(fileName);
            throw new ArgumentException($"{fileName}: required fields unset, CRIU could not read the file: {string.Join(", ", missing)}");
        }
        var payload = message.ToByteArray();
        var bytes = new byte[LengthPrefix.Size + payload.Length];
        LengthPrefix.Write(bytes, payload.Length);
        payload.CopyTo(bytes, LengthPrefix.Size);
        using (var handle = ImageFiles.OpenWrite(Path.Combine(Directory, fileName), FileMode.CreateNew, FileAccess.Write))
        {
            RandomAccess.Write(handle, bytes, 0);
            FileSync.File(handle, fileName);
        }
        var entry = MessageEntry(fileName, bytes);
        var digest = MessageDigest(entry, bytes);
        lock (_gate)
        {
            _messages[fileName] = entry;
            _messageDigests[fileName] = digest;
        }
    }

    /// <summary>A message file is one segment, prefix and payload together.</summary>
    private static ManifestFile MessageEntry(string fileName, byte[] bytes) =>
        new(fileName, bytes.Length, [new Segment(0, bytes.Length, XxHash64.HashToUInt64(bytes))]);

    private static string MessageDigest(ManifestFile entry, byte[] bytes) => FileDigest.Combine(entry.Segments, _ => FileDigest.Leaves(bytes, LeafHash.Current));

    /// <summary>Creates a raw-contents file of <paramref name="totalLength"/> payload bytes, to be filled by <see cref="PageFile.Write"/>.</summary>
    public PageFile OpenPages(string fileName, long totalLength)
    {
        if (!Claim(fileName).Kind.IsPages())
        {
            Release(fileName);
            throw new ArgumentException($"{fileName}: not a pages file name");
        }
        bool reuse;
        lock (_gate) reuse = _leftOver.Remove(fileName);
        var file = new PageFile(Directory, fileName, totalLength, reuse, _creates, DirectIo, _parent, Pack, KeepDigests);
        lock (_gate) _pages[fileName] = file;
        return file;
    }

    /// <summary>
    /// Makes the image whole: fsyncs and closes every page file (each must be covered by its segments, or this throws
    /// naming the first unwritten range), fsyncs the directory, then atomically replaces the manifest with a committed one.
    /// </summary>
    /// <param name="signWith">
    /// The node key to sign the manifest with (every file's digest, <see cref="FileDigest"/>, taken as its pieces were
    /// written); null: unsigned.
    /// </param>
    public ImageManifest Commit(IReadOnlyList<ImageLink>? links = null, IReadOnlyDictionary<string, string>? extra = null, ImageKey? signWith = null)
    {
        lock (_gate)
        {
            EnsureOpen();
            var unfinished = _claimed.FirstOrDefault(n => !_messages.ContainsKey(n) && !_pages.ContainsKey(n));
            if (unfinished is not null) throw new ImageException(unfinished, null, "its write failed, so the image cannot be committed");
            if (_leftOver.Count > 0)
                throw new ImageException(_leftOver.Order(StringComparer.Ordinal).First(), null, "written before the crash but never reopened with OpenPages");
            // Many small files (a render node's BOs each have one) flush together: the filesystem groups their commits.
            Parallel.ForEach(_pages.Values, new ParallelOptions { MaxDegreeOfParallelism = 8 }, p => p.Sync());
            var files = _messages.Values.Concat(_pages.Values.Select(p => p.Close())).OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
            FileSync.Directory(Directory);
            var committed = _started with
            {
                State = ImageState.Committed,
                Finished = DateTimeOffset.UtcNow,
                Files = files,
                Links = links ?? [],
                Extra = extra ?? new Dictionary<string, string>(),
            };
            if (signWith is not null)
                committed = committed with { Signature = ImageSignature.Sign(committed, Digests(files), signWith) };
            ManifestCodec.Store(Directory, committed);
            _finished = true;
            return committed;
        }
    }

    /// <summary>Every file's digest, as its bytes were written: nothing is read back.</summary>
    private Dictionary<string, string> Digests(IReadOnlyList<ManifestFile> files) =>
        files.ToDictionary(f => f.Name, f => (_messageDigests.TryGetValue(f.Name, out var known) ? known : _pages.GetValueOrDefault(f.Name)?.Digest)
                                             ?? throw new InvalidOperationException($"{f.Name}: no digest recorded"), StringComparer.Ordinal);

    /// <summary>Marks the image failed, with the reason, so nobody restores it or waits for it.</summary>
    public void Abort(string reason)
    {
        lock (_gate)
        {
            EnsureOpen();
            var files = _messages.Values.Concat(_pages.Values.Select(p => p.CloseUnchecked())).OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
            var failed = _started with { State = ImageState.Failed, FailureReason = reason, Finished = DateTimeOffset.UtcNow, Files = files };
            _finished = true;
            try
            {
                ManifestCodec.Store(Directory, failed);
            }
            catch (IOException)
            {
                // Most likely the disk is full, the very reason the image failed: its data is worthless now, and
                // deleting it makes room for the few bytes that say so.
                foreach (var path in System.IO.Directory.EnumerateFiles(Directory, "amdgpu-*")) File.Delete(path);
                ManifestCodec.Store(Directory, failed with { Files = [], FailureReason = reason + " (its files were deleted to record this)" });
            }
        }
    }

    /// <summary>Closes open files. Without Commit or Abort the manifest stays in-progress, as after a crash.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var p in _pages.Values) p.CloseUnchecked();
            _finished = true;
        }
    }

    private ImageFileName Claim(string fileName)
    {
        var name = ImageFileName.TryParse(fileName)
                   ?? throw new ArgumentException($"{fileName}: not an amdgpu image file name", nameof(fileName));
        lock (_gate)
        {
            EnsureOpen();
            if (!_claimed.Add(fileName)) throw new ImageException(fileName, null, "written twice in one image");
        }
        return name;
    }

    private void Release(string fileName)
    {
        lock (_gate) _claimed.Remove(fileName);
    }

    private void EnsureOpen()
    {
        if (_finished) throw new InvalidOperationException($"{Directory}: image already committed, aborted or closed");
    }
}
