using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Tests.Images.Mutation;
using Gpuckpt.Engine.Transfer;
using Xunit;

namespace Gpuckpt.Engine.Tests.Transfer;

/// <summary>
/// A target's copy of a migrating image, received frame by frame as the source sends it: byte-identical to the
/// source's files, and signed with the target's own key when the node signs (the cluster default), so that a node
/// requiring signed images restores from it and from nothing another key signed. A copy whose receiving engine died
/// is taken up by the next one, which keeps every piece still on its disk with its checksum and asks for the others.
/// </summary>
public sealed class ImageReceiverSpecs(RealImage image) : IClassFixture<RealImage>, IDisposable
{
    private const int FrameSize = 64 * 1024;
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"gpuckpt-recv-{Guid.NewGuid():N}");

    /// <summary>
    /// Every file of the source image cut into frames as the source sends them (a page file's length prefix in a frame
    /// of its own), last file first: the order of arrival does not matter.
    /// </summary>
    private List<byte[]> Frames()
    {
        var source = ManifestCodec.Load(image.Directory);
        var frames = new List<byte[]>();
        long seq = 0;
        foreach (var file in source.Files.Reverse())
        {
            var bytes = File.ReadAllBytes(Path.Combine(image.Directory, file.Name));
            var cuts = ImageFileName.Parse(file.Name).Kind.IsPages() ? new[] { 0, LengthPrefix.Size } : [0];
            var starts = cuts.Concat(Enumerable.Range(0, (bytes.Length + FrameSize - 1) / FrameSize).Select(i => cuts[^1] + i * FrameSize))
                .Where(at => at < bytes.Length).Distinct().ToList();
            for (var i = 0; i < starts.Count; i++)
            {
                var at = starts[i];
                var end = i + 1 < starts.Count ? starts[i + 1] : bytes.Length;
                frames.Add(TransferFrame.Encode(seq++, file.Name, bytes.Length, at, bytes.AsSpan(at, end - at)));
            }
        }
        return frames;
    }

    private static void Write(ImageReceiver receiver, byte[] encoded)
    {
        var frame = TransferFrame.Decode(encoded, out var payload);
        receiver.Write(frame, payload.Span);
    }

    private ImageHeader Header()
    {
        var source = ManifestCodec.Load(image.Directory);
        return new ImageHeader(source.ImageId, source.Source, source.Topology);
    }

    private string Receive(ImageKey? signWith)
    {
        var source = ManifestCodec.Load(image.Directory);
        var dir = Path.Combine(_root, Guid.NewGuid().ToString("N"));
        using var receiver = ImageReceiver.Create(dir, Header(), throughPageCache: false);
        foreach (var frame in Frames()) Write(receiver, frame);
        receiver.Commit([.. source.Files.Select(f => (f.Name, f.Size))], source.Links, signWith);
        return dir;
    }

    private void SameAsSource(string dir)
    {
        foreach (var file in ManifestCodec.Load(image.Directory).Files.Where(f => ImageFileName.Parse(f.Name).Kind.IsPages()))
            Assert.True(File.ReadAllBytes(Path.Combine(image.Directory, file.Name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(dir, file.Name))),
                $"{file.Name}: the copy differs from the source");
    }

    [Fact]
    public void A_copy_whose_receiver_died_is_taken_up_keeping_what_it_wrote_and_asking_again_for_what_it_lost()
    {
        var source = ManifestCodec.Load(image.Directory);
        var frames = Frames();
        var headers = frames.Select(f => TransferFrame.ReadHeader(f)).ToList();
        var confirmed = frames.Count * 2 / 3;
        var dir = Path.Combine(_root, "copy");
        using (var dying = ImageReceiver.Create(dir, Header(), throughPageCache: false))
            foreach (var frame in frames.Take(confirmed)) Write(dying, frame);
        // The receiving engine died there. A piece it had written is damaged on its disk since.
        var damaged = new[] { headers.Take(confirmed).First(h => ImageFileName.Parse(h.FileName).Kind.IsPages() && h.Offset >= LengthPrefix.Size && h.Length > 100) };
        foreach (var piece in damaged)
        {
            using var file = File.OpenHandle(Path.Combine(dir, piece.FileName), FileMode.Open, FileAccess.ReadWrite);
            var one = new byte[1];
            RandomAccess.Read(file, one, piece.Offset + 100);
            one[0] ^= 0x5a;
            RandomAccess.Write(file, one, piece.Offset + 100);
        }

        using var resumed = ImageReceiver.Resume(dir, Header(), throughPageCache: false);
        var missing = headers.Take(confirmed)
            .Where(h => !resumed.Holds(TransferFrame.Decode(TransferFrame.EncodeCheck(h), out _))).Select(h => h.Seq).ToHashSet();

        // Lost: the damaged piece, and the frames of a message file that had not arrived whole (it was gathered in memory).
        var wholeMessages = headers.Take(confirmed).GroupBy(h => h.FileName)
            .Where(g => !ImageFileName.Parse(g.Key).Kind.IsPages() && g.Sum(h => (long)h.Length) == g.First().FileSize).Select(g => g.Key).ToHashSet();
        var expected = headers.Take(confirmed)
            .Where(h => damaged.Contains(h) || (!ImageFileName.Parse(h.FileName).Kind.IsPages() && !wholeMessages.Contains(h.FileName))).Select(h => h.Seq).ToHashSet();
        Assert.Equal(expected.Order(), missing.Order());
        Assert.True(missing.Count < confirmed / 2, $"{missing.Count} of {confirmed} confirmed frames were lost: the copy was not taken up");

        foreach (var frame in frames.Where((_, i) => i >= confirmed || missing.Contains(headers[i].Seq))) Write(resumed, frame);
        resumed.Commit([.. source.Files.Select(f => (f.Name, f.Size))], source.Links);
        SameAsSource(dir);
        Assert.True(ImageVerifier.Verify(dir).Ok, "the copy taken up does not verify");
    }

    [Fact]
    public void A_copy_of_another_image_is_not_taken_up()
    {
        var frames = Frames();
        var dir = Path.Combine(_root, "copy");
        var other = Header() with { ImageId = "another-image" };
        using (var dying = ImageReceiver.Create(dir, other, throughPageCache: false))
            foreach (var frame in frames) Write(dying, frame);

        using var resumed = ImageReceiver.Resume(dir, Header(), throughPageCache: false);

        var held = frames.Select(f => TransferFrame.ReadHeader(f)).Where(h => h.Offset >= LengthPrefix.Size && h.Length > 0)
            .Count(h => resumed.Holds(TransferFrame.Decode(TransferFrame.EncodeCheck(h), out _)));
        Assert.Equal(0, held);
        Assert.Equal(Header().ImageId, ManifestCodec.Load(dir).ImageId);
    }

    [Fact]
    public void A_frame_built_around_its_bytes_in_place_is_the_frame_encoded_from_a_copy()
    {
        const string name = "amdgpu-pages-1-0010.img";
        var payload = new byte[100_000];
        new Random(11).NextBytes(payload);
        var at = TransferFrame.HeaderSize(name);
        var buffer = new byte[at + payload.Length];
        payload.CopyTo(buffer, at);

        var frame = TransferFrame.EncodeAround(buffer, 9, name, 1L << 40, (1L << 35) + 8, payload.Length, out var xxh64);

        Assert.Same(buffer, frame);
        Assert.Equal(TransferFrame.Encode(9, name, 1L << 40, (1L << 35) + 8, payload), frame);
        var decoded = TransferFrame.Decode(frame, out var carried);
        Assert.Equal(xxh64, decoded.Xxh64);
        Assert.True(carried.Span.SequenceEqual(payload), "the decoded payload differs from the bytes sent");

        // All zeros: a header-only zero frame, which decodes to as many zeros.
        var zeros = new byte[at + 4096];
        var zero = TransferFrame.EncodeAround(zeros, 10, name, 1L << 40, 8, 4096, out _);
        Assert.Equal(TransferFrame.Encode(10, name, 1L << 40, 8, new byte[4096]), zero);
        Assert.Equal(at, zero.Length);
        Assert.True(TransferFrame.Decode(zero, out var none).Zero);
        Assert.Equal(4096, none.Length);
        Assert.True(none.Span.IndexOfAnyExcept((byte)0) < 0);

        // A flipped payload byte fails the frame's checksum, naming the file and offset.
        frame[at + 500] ^= 1;
        var refused = Assert.Throws<InvalidDataException>(() => TransferFrame.Decode(frame, out _));
        Assert.Contains($"{name}: offset {(1L << 35) + 8}", refused.Message);
    }

    [Fact]
    public void A_check_frame_names_the_piece_and_its_checksum_and_carries_no_bytes()
    {
        var payload = new byte[4096];
        new Random(7).NextBytes(payload);
        var data = TransferFrame.ReadHeader(TransferFrame.Encode(42, "amdgpu-pages-1-0010.img", 1L << 40, (1L << 33) + 8, payload));

        var check = TransferFrame.EncodeCheck(data);
        var decoded = TransferFrame.Decode(check, out var carried);

        Assert.Equal(data with { Check = true }, decoded);
        Assert.True(carried.IsEmpty, $"a check frame carried {carried.Length} bytes");
        Assert.True(check.Length < 100, $"a check frame takes {check.Length} bytes");
        check[32] = 3;
        var refused = Assert.Throws<InvalidDataException>(() => TransferFrame.Decode(check, out _));
        Assert.Contains("frame 42", refused.Message);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_copy_signed_with_the_target_key_holds_the_source_bytes_and_verifies_only_under_that_key()
    {
        var targetKey = ImageKey.LoadOrCreate(Path.Combine(_root, "target.key"));
        var dir = Receive(targetKey);

        SameAsSource(dir);
        // Like every image: the node's copy of another node's GPU memory is for its owner only.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dir));
        Assert.All(Directory.GetFiles(dir), f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));
        var underTarget = ImageVerifier.Verify(dir, trust: new ImageTrust(targetKey, Sign: false, Require: true));
        Assert.True(underTarget.Ok, $"the target's own copy is refused under its key: {underTarget.Describe()}");

        // Another node's key (the source's, say) does not vouch for this copy.
        var otherKey = ImageKey.LoadOrCreate(Path.Combine(_root, "other.key"));
        var underOther = ImageVerifier.Verify(dir, trust: new ImageTrust(otherKey, Sign: false, Require: true));
        Assert.False(underOther.Ok, "a copy signed with the target's key verified under another key");
        Assert.Equal(ImageManifest.FileName, underOther.File);
    }

    [Fact]
    public void A_copy_received_in_frames_cut_from_each_piece_hashes_to_the_digests_the_source_signed()
    {
        // As a migration's source sends it: each piece (a page file's segment, a message file whole) cut into frames
        // from its own start, the frames of all pieces in a random order.
        var source = ManifestCodec.Load(image.SignedDirectory);
        var pieces = source.Files.SelectMany(f => ImageFileName.Parse(f.Name).Kind.IsPages()
            ? f.Segments.Where(s => s.Offset >= LengthPrefix.Size).Select(s => new TransferPiece(f.Name, f.Size, s.Offset, s.Length, s.Xxh64))
            : [new TransferPiece(f.Name, f.Size, 0, f.Size, f.Segments.Single().Xxh64)]).ToList();
        Assert.Contains(pieces, p => p.Length > 2 * FrameSize);
        long seq = 0;
        var frames = new List<byte[]>();
        foreach (var piece in pieces)
        {
            var cut = PieceFrames.Read(image.SignedDirectory, piece, seq, FrameSize);
            seq += cut.Count;
            frames.AddRange(cut.Select(c => c.Frame));
        }
        new Random(Gpuckpt.Tests.Support.TestSeed.Fresh()).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(frames));
        var dir = Path.Combine(_root, "pieces");
        var key = ImageKey.LoadOrCreate(Path.Combine(_root, "target.key"));
        using (var receiver = ImageReceiver.Create(dir, Header(), throughPageCache: false))
        {
            foreach (var frame in frames) Write(receiver, frame);
            receiver.Commit([.. source.Files.Select(f => (f.Name, f.Size))], source.Links, key);
        }

        var copy = ManifestCodec.Load(dir);
        Assert.True(copy.Files.Sum(f => f.Segments.Count) > source.Files.Sum(f => f.Segments.Count), "the copy's segments are the frames, finer than the source's pieces");
        Assert.Equal(source.Signature!.Files.OrderBy(f => f.Key), copy.Signature!.Files.OrderBy(f => f.Key));
        Assert.Equal(source.Signature.Files.OrderBy(f => f.Key), FileDigest.ReadAll(dir, copy).OrderBy(f => f.Key));
        SameAsSource(dir);
    }

    /// <summary>
    /// A page file of megabytes, as a stop-and-copy migration's copy takes it past the page cache (O_DIRECT) and a live
    /// one's through it: its frames arrive in any order, several at once, each sharing a block with its neighbours at
    /// its ends, and the copy is the source file byte for byte.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_page_file_of_megabytes_received_in_frames_in_any_order_is_the_source_file_byte_for_byte(bool throughPageCache)
    {
        var seed = Gpuckpt.Tests.Support.TestSeed.Fresh();
        var random = new Random(seed);
        var payload = new byte[(3 << 20) + random.Next(1, 4096)];
        random.NextBytes(payload);
        var name = ImageFileName.KfdPages(1, 0x1234);
        var sourceDir = Path.Combine(_root, "big-source");
        using (var writer = ImageWriter.Create(sourceDir, ImageHeader.New(new ImageSource("test", 1), [])))
        {
            writer.OpenPages(name, payload.Length).Write(0, payload);
            writer.Commit();
        }
        var source = ManifestCodec.Load(sourceDir);
        var bytes = File.ReadAllBytes(Path.Combine(sourceDir, name));
        var starts = new[] { 0L }.Concat(Enumerable.Range(0, (payload.Length + FrameSize - 1) / FrameSize).Select(i => LengthPrefix.Size + (long)i * FrameSize)).ToList();
        var frames = starts.Select((at, i) => TransferFrame.Encode(i, name, bytes.Length, at,
            bytes.AsSpan((int)at, (int)((i + 1 < starts.Count ? starts[i + 1] : bytes.Length) - at)))).ToList();
        random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(frames));
        var dir = Path.Combine(_root, "big-copy");

        using (var receiver = ImageReceiver.Create(dir, new ImageHeader(source.ImageId, source.Source, source.Topology), throughPageCache))
        {
            Parallel.ForEach(frames, new ParallelOptions { MaxDegreeOfParallelism = 4 }, frame => Write(receiver, frame));
            receiver.Commit([.. source.Files.Select(f => (f.Name, f.Size))], source.Links, signWith: null);
        }

        Assert.True(File.ReadAllBytes(Path.Combine(dir, name)).AsSpan().SequenceEqual(bytes), $"seed {seed}: the copy differs from the source file");
        // Its manifest describes it as the source's does the source: the same digest, read through the copy's own segments.
        Assert.Equal(FileDigest.ReadAll(sourceDir, source), FileDigest.ReadAll(dir, ManifestCodec.Load(dir)));
    }

    [Fact]
    public void An_unsigned_copy_is_refused_where_signed_images_are_required()
    {
        var key = ImageKey.LoadOrCreate(Path.Combine(_root, "target.key"));
        var dir = Receive(signWith: null);

        Assert.True(ImageVerifier.Verify(dir).Ok, "the unsigned copy does not even verify by its checksums");
        var required = ImageVerifier.Verify(dir, trust: new ImageTrust(key, Sign: false, Require: true));
        Assert.False(required.Ok, "an unsigned copy passed where signatures are required");
        Assert.Equal(ImageManifest.FileName, required.File);
    }

    [Fact]
    public void A_message_file_frame_claiming_more_than_the_cap_is_refused_before_anything_is_allocated()
    {
        var dir = Path.Combine(_root, Guid.NewGuid().ToString("N"));
        using var receiver = ImageReceiver.Create(dir, Header(), throughPageCache: false);
        var name = ManifestCodec.Load(image.Directory).Files.First(f => !ImageFileName.Parse(f.Name).Kind.IsPages()).Name;
        var huge = MessageFiles.MaxFileSize * 64;
        var before = GC.GetTotalAllocatedBytes(precise: true);

        var e = Assert.Throws<InvalidDataException>(() => Write(receiver, TransferFrame.Encode(0, name, huge, 0, new byte[16])));

        Assert.Contains(name, e.Message);
        Assert.Contains("at most", e.Message);
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < MessageFiles.MaxFileSize, "the receiver allocated what the frame claimed");
    }

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }
}
