using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Images;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Faults;

/// <summary>
/// Torn page files. A write that puts only part of its bytes on disk never ends in a committed image: it is retried
/// to an image byte-identical to an undisturbed one, or the job fails with the image marked failed and a restore
/// refuses it. A committed page file torn afterwards (cut short, or bytes overwritten) is refused by a restore naming
/// the file and the offset, and nothing is left on the device. Every case is a row of faults.md.
/// </summary>
public sealed class TornWriteSpecs(ITestOutputHelper output) : FaultTableSpec(output, "gpuckpt.copy.retry.first-backoff = 1ms")
{
    [Fact]
    public async Task A_torn_page_file_write_is_retried_to_the_same_image_or_never_committed()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        using var node = new SimNode(gpus: 2);
        using var dir = new TempDir();
        var failures = new List<string>();

        // Torn once: the retry writes the whole chunk again, over its torn half.
        var pid = Spawn(node);
        var undisturbed = dir.Sub("undisturbed");
        await Checkpoint(node.Client, pid, undisturbed, leaveRunning: true);
        var devices = KfdDevices(undisturbed);
        var (device, chunks) = devices[random.Next(devices.Count)];
        var chunk = random.Next(chunks);
        var once = new ChunkFault(device, chunk, FaultSide.File, ChunkIoException.ShortWrite, Times: 1);
        var onceFaults = new ChunkFaults([once]);
        var retried = dir.Sub("torn-once");
        failures.AddRange(await CheckpointRow(node, pid, retried, $"page-file write torn once (half of {device} chunk {chunk} written)", "checkpoint: copy",
            pauses: true, settings: Settings with { Faults = onceFaults },
            check: _ => onceFaults.Hits(once) == 1 ? Differences(undisturbed, retried) : [$"the torn write happened {onceFaults.Hits(once)} times"],
            completed: "completed: retried, image byte-identical to an undisturbed one"));

        // Torn on every attempt: the job fails, the image is marked failed, and a restore will not have it.
        var lasting = once with { Times = 1000 };
        var lastingFaults = new ChunkFaults([lasting]);
        var torn = dir.Sub("torn-always");
        failures.AddRange(await CheckpointRow(node, Spawn(node), torn, $"page-file write torn on every attempt ({device} chunk {chunk})", "checkpoint: copy",
            pauses: true, settings: Settings with { Faults = lastingFaults },
            check: reply => TornAndFailed(reply, torn, chunk)));
        failures.AddRange(await RestoreRow(node, torn, "restore of the image a torn write failed", "restore: verify", "",
            reason => reason.Contains("not committed", StringComparison.Ordinal), untouched: true));

        Assert.True(failures.Count == 0, $"seed {seed}:\n{string.Join("\n", failures)}");
    }

    [Fact]
    public async Task A_committed_page_file_torn_afterwards_is_refused_naming_the_file_and_offset()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        using var node = new SimNode(gpus: 2);
        using var dir = new TempDir();
        var source = Spawn(node);
        var images = dir.Sub("image");
        await Checkpoint(node.Client, source, images, leaveRunning: true);
        var digest = node.Client.State(source).Digest;
        var files = ManifestCodec.Load(images).Files;
        var pages = files.Where(f => ImageFileName.TryParse(f.Name)?.Kind.IsPages() == true).ToList();
        // A restore reads every GPU's page file; an import's render file repeats its exporter's bytes and is not read.
        var gpuPages = files.Where(f => ImageFileName.TryParse(f.Name)?.Kind == ImageFileKind.KfdPages).ToList();
        var failures = new List<string>();

        // Cut short past its length prefix: the size check refuses it before any process exists.
        var file = pages[random.Next(pages.Count)];
        var cut = CopyImage(images, dir.Sub("truncated"));
        var length = LengthPrefix.Size + (long)(random.NextDouble() * (file.Size - LengthPrefix.Size - 1));
        using (var handle = File.OpenHandle(Path.Combine(cut, file.Name), FileMode.Open, FileAccess.ReadWrite)) RandomAccess.SetLength(handle, length);
        failures.AddRange(await RestoreRow(node, cut, $"committed page file truncated ({file.Name} cut to {length} of {file.Size} bytes)", "restore: verify", digest,
            reason => reason.Contains($"{file.Name}: offset {length}:", StringComparison.Ordinal), untouched: true));

        // Overwritten in place, same size: found by its segment's checksum as the contents stream, before any RESUME.
        file = gpuPages[random.Next(gpuPages.Count)];
        var overwritten = CopyImage(images, dir.Sub("overwritten"));
        var at = LengthPrefix.Size + (long)(random.NextDouble() * (file.Size - LengthPrefix.Size - 1));
        var bytes = new byte[(int)Math.Min(1 + random.Next(4096), file.Size - at)];
        using (var handle = File.OpenHandle(Path.Combine(overwritten, file.Name), FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Read(handle, bytes, at);
            for (var i = 0; i < bytes.Length; i++) bytes[i] ^= (byte)(1 + random.Next(255));
            RandomAccess.Write(handle, bytes, at);
        }
        var segment = file.Segments.Single(s => s.Offset <= at && at < s.End);
        failures.AddRange(await RestoreRow(node, overwritten, $"committed page file overwritten ({bytes.Length} bytes of {file.Name} at offset {at})", "restore: contents", digest,
            reason => reason.Contains($"{file.Name}: offset {segment.Offset}: checksum mismatch", StringComparison.Ordinal)));

        Assert.True(failures.Count == 0, $"seed {seed}:\n{string.Join("\n", failures)}");
    }

    /// <summary>A lasting torn write must fail the job naming the chunk and the short write, with the image marked failed.</summary>
    private IEnumerable<string> TornAndFailed(ICheckpointMessage reply, string images, int chunk)
    {
        if (reply is not CheckpointFailed failed)
        {
            yield return "completed although every attempt at one chunk was torn";
            yield break;
        }
        if (!failed.Reason.Contains("short write", StringComparison.Ordinal) || !failed.Reason.Contains($"chunk {chunk} (", StringComparison.Ordinal)
            || !failed.Reason.Contains($"after {Settings.Retry.MaxRetries + 1} attempts", StringComparison.Ordinal))
            yield return "the reason does not name the short write, the chunk and the attempts";
        if (ManifestCodec.Load(images).State != ImageState.Failed) yield return $"the image is {ManifestCodec.Load(images).State}, not failed";
    }

    /// <summary>A copy of a committed image (its files are flat in one directory).</summary>
    private static string CopyImage(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        return to;
    }
}
