using System.Collections.Concurrent;
using System.Diagnostics;
using CsCheck;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Restore;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Engine.Tests.Images.Mutation;

/// <summary>
/// Property: whatever is done to a valid image (damage, or a forgery with every checksum fixed), verify and the
/// restore's preparation never crash, hang or allocate in proportion to a size the image claims; they refuse with an
/// error naming a file of the image, or accept only a forgery that is consistent (a restore of it cannot fail for a
/// reason the image could tell). A few hundred cases per run; GPUCKPT_NIGHTLY=1 runs thousands
/// (GPUCKPT_MUTATION_CASES=N sets the number). The counts go to mutation-*.md in the report directory.
/// </summary>
[Trait("Tier", "Full")]
public sealed class ImageMutationSpecs(RealImage image, ITestOutputHelper output) : IClassFixture<RealImage>
{
    private static readonly TimeSpan CaseLimit = TimeSpan.FromSeconds(60);

    /// <summary>One case: which mutation, and the seed that drives it (replays it alone).</summary>
    public sealed record Case(ImageMutation Mutation, int Seed)
    {
        public override string ToString() => $"{Mutation.Name} seed {Seed}";
    }

    [Fact]
    public void Every_mutated_image_is_refused_naming_a_file_or_is_a_consistent_forgery() => Sample(signed: false, ImageMutation.All, 300, 5000);

    [Fact]
    public void Every_forgery_of_a_signed_image_is_refused_naming_a_file() =>
        Sample(signed: true, [.. ImageMutation.All.Where(m => m.Sealed)], 100, 1000);

    private void Sample(bool signed, IReadOnlyList<ImageMutation> mutations, int ci, int night)
    {
        var nightly = Environment.GetEnvironmentVariable("GPUCKPT_NIGHTLY") == "1";
        var cases = int.TryParse(Environment.GetEnvironmentVariable("GPUCKPT_MUTATION_CASES"), out var n) ? (signed ? Math.Max(1, n / 3) : n) : nightly ? night : ci;
        var runSeed = TestSeed.Fresh();
        var counts = new ConcurrentDictionary<(string Mutation, string Outcome), int>();
        var imageBytes = Directory.EnumerateFiles(image.Directory).Sum(f => new FileInfo(f).Length);
        var next = 0;
        // Case seeds come from the run seed, so GPUCKPT_SEED replays the whole run; each failure names its case seed.
        var gen = Gen.Int[0, int.MaxValue].Select(_ =>
        {
            var i = Interlocked.Increment(ref next);
            var seed = HashCode.Combine(runSeed, i) & int.MaxValue;
            return new Case(mutations[seed % mutations.Count], seed);
        });
        gen.Sample(c =>
        {
            var outcome = Run(c, imageBytes, signed);
            counts.AddOrUpdate((c.Mutation.Name, outcome), 1, (_, v) => v + 1);
        }, iter: cases, threads: 2, print: c => c.ToString());

        var report = Report(counts, mutations, cases, nightly, runSeed, signed);
        output.WriteLine(report);
        var path = ReportFile($"mutation{(signed ? "-signed" : "")}-{(nightly ? "nightly" : "ci")}.md");
        File.WriteAllText(path, report);
        output.WriteLine($"written to {path}");
        Assert.Equal(cases, counts.Values.Sum());
    }

    private string Run(Case c, long imageBytes, bool signed)
    {
        var dir = image.Copy(signed);
        try
        {
            var mutated = c.Mutation.Apply(dir, new Random(c.Seed), image);
            var why = $"{c}: {mutated.Description}";
            var trust = signed ? new ImageTrust(image.Key, Sign: false, Require: true) : null;
            var check = Task.Factory.StartNew(() => Check(dir, trust), TaskCreationOptions.LongRunning);
            Assert.True(check.Wait(CaseLimit), $"{why}: no answer within {CaseLimit.TotalSeconds} s (a hang)");
            var (verify, prepared, allocated) = check.Result;
            var budget = (64L << 20) + 4 * imageBytes;
            Assert.True(allocated < budget, $"{why}: allocated {allocated} bytes, more than {budget} (in proportion to a claimed size?)");
            if (mutated.NoOp) return "no-op (identical files)";
            if (verify.Ok)
            {
                Assert.False(signed, $"{why}: a forgery of a signed image was accepted");
                Assert.True(c.Mutation.Sealed && !mutated.MustRefuse, $"{why}: accepted by verify");
                Assert.True(prepared is null or TopologyMismatchException, $"{why}: verify accepted, the restore refused: {prepared?.Message}");
                return "accepted: consistent forgery";
            }
            var named = verify.File!;
            Assert.True(named == ImageManifest.FileName || ImageFileName.TryParse(named) is not null, $"{why}: the error names '{named}', not a file of the image: {verify.Describe()}");
            if (mutated.Names is { } names) Assert.True(names.Contains(named), $"{why}: the error names {named}, expected one of {string.Join(", ", names)}: {verify.Describe()}");
            foreach (var leak in new[] { "System.", "Exception", "internal error", "Parameter '" })
                Assert.False(verify.Reason!.Contains(leak, StringComparison.Ordinal), $"{why}: a .NET message leaked: {verify.Describe()}");
            var refused = Assert.IsType<ImageException>(prepared);
            Assert.True(refused.File == named, $"{why}: verify names {named}, the restore {refused.Message}");
            return "refused, naming the file";
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
            if (Directory.Exists(dir + "-outside")) Directory.Delete(dir + "-outside", recursive: true);
        }
    }

    /// <summary>
    /// Verify, then what a restore reads before it resumes: its preparation (everything but the contents, before a
    /// device is touched), then the contents as it streams them, each segment checked as it is read (a mismatch there
    /// rolls the process back). With the bytes this thread allocated.
    /// </summary>
    private (VerifyResult Verify, Exception? Prepared, long Allocated) Check(string dir, ImageTrust? trust)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var verify = ImageVerifier.Verify(dir, trust: trust);
        Exception? prepared = null;
        try
        {
            StreamContents(RestorePlan.Prepare(dir, image.LocalGpus, trust));
        }
        catch (Exception e)
        {
            prepared = e;
        }
        return (verify, prepared, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static void StreamContents(RestorePlan plan)
    {
        var reader = plan.Image.Reader;
        var buffer = new byte[1 << 20];
        var read = new List<PageFileReader>();
        try
        {
            foreach (var name in reader.Manifest.Files.Select(f => f.Name).Where(n => ImageFileName.TryParse(n)?.Kind.IsPages() == true))
            {
                var pages = reader.OpenPages(name);
                read.Add(pages);
                pages.RecordDigests();
                for (long at = 0; at < pages.Length; at += buffer.Length)
                    pages.ReadVerified(at, buffer.AsSpan(0, (int)Math.Min(buffer.Length, pages.Length - at)));
            }
            // A signed image's page files against their signed digests, as a restore checks them before RESUME.
            plan.CheckPendingDigests(read);
        }
        finally
        {
            foreach (var pages in read) pages.Dispose();
        }
    }

    private static string Report(ConcurrentDictionary<(string Mutation, string Outcome), int> counts, IReadOnlyList<ImageMutation> mutations, int cases, bool nightly, int seed, bool signed)
    {
        var outcomes = counts.Keys.Select(k => k.Outcome).Distinct().Order().ToList();
        var lines = new List<string>
        {
            $"# Image mutations{(signed ? " of a signed image (node key required)" : "")} ({(nightly ? "nightly" : "CI")}): {cases} cases, seed {seed}",
            "",
            $"| mutation | cases | {string.Join(" | ", outcomes)} |",
            $"|---|---:|{string.Concat(outcomes.Select(_ => "---:|"))}",
        };
        foreach (var m in mutations)
        {
            var row = outcomes.Select(o => counts.GetValueOrDefault((m.Name, o))).ToList();
            lines.Add($"| {m.Name}{(m.Sealed ? " (sealed)" : "")} | {row.Sum()} | {string.Join(" | ", row)} |");
        }
        var totals = outcomes.Select(o => counts.Where(kv => kv.Key.Outcome == o).Sum(kv => kv.Value)).ToList();
        lines.Add($"| **all** | {totals.Sum()} | {string.Join(" | ", totals)} |");
        lines.Add("");
        lines.Add("0 crashes, 0 hangs, 0 errors without a file name: any of them fails the spec.");
        return string.Join('\n', lines) + "\n";
    }

    internal static string ReportFile(string name)
    {
        var dir = Environment.GetEnvironmentVariable("GPUCKPT_REPORT_DIR") is { Length: > 0 } d ? d : Path.Combine(Path.GetTempPath(), "gpuckpt-reports");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, name);
    }
}
