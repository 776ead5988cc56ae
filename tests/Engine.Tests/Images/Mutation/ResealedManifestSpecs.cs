using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images.Mutation;

/// <summary>
/// Forgeries that pass every checksum because the forger sealed them again: verify refuses each one naming the file,
/// and a restore refuses it before it creates a process. Missing or null members give a line naming manifest.json,
/// and `verify --json` still prints its verdict. The commands run with --allow-unsigned: these are the checks that hold
/// for an image no key vouches for (a signature refuses every such forgery earlier, see ImageSignatureSpecs).
/// </summary>
public sealed class ResealedManifestSpecs(RealImage image) : IClassFixture<RealImage>
{
    [Fact]
    public void A_render_BO_entry_listed_twice_is_refused_by_verify_and_by_restore_before_any_process_exists()
    {
        var dir = image.Copy();
        var file = image.Files.First(f => ImageFileName.TryParse(f)?.Kind == ImageFileKind.RenderNode);
        var node = CriuRenderNode.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(dir, file)).AsSpan(8));
        node.BoEntries.Add(node.BoEntries[0].Clone());
        node.NumOfBos++;
        ImageForge.RewriteFile(dir, file, ImageForge.WithPrefix(node.ToByteArray()));

        var verified = ImageVerifier.Verify(dir);
        Assert.False(verified.Ok);
        Assert.Equal(file, verified.File);
        Assert.Contains($"handle {node.BoEntries[0].Handle} appears twice", verified.Reason);
        AssertRestoreRefusesBeforeTouchingADevice(dir, file);
    }

    [Fact]
    public void A_file_listed_twice_in_the_manifest_is_refused_naming_it()
    {
        var dir = image.Copy();
        var name = "";
        ImageForge.Reseal(dir, m =>
        {
            var files = m["files"]!.AsArray();
            var entry = files.First(f => ImageFileName.TryParse(f!["name"]!.GetValue<string>())?.Kind == ImageFileKind.DrmPages)!;
            name = entry["name"]!.GetValue<string>();
            files.Add(entry.DeepClone());
        });

        var verified = ImageVerifier.Verify(dir);
        Assert.Equal($"{name}: listed twice in the manifest", verified.Describe());
        AssertRestoreRefusesBeforeTouchingADevice(dir, name);
    }

    [Fact]
    public void A_manifest_topology_that_disagrees_with_the_KFD_image_is_refused()
    {
        var dir = image.Copy();
        ImageForge.Reseal(dir, m =>
        {
            var gpu = m["topology"]!.AsArray()[0]!.AsObject();
            gpu["simd_count"] = gpu["simd_count"]!.GetValue<uint>() * 2;
        });

        var verified = ImageVerifier.Verify(dir);
        Assert.False(verified.Ok);
        Assert.Equal(ImageFileName.Kfd(1), verified.File);
        Assert.Contains("matches no GPU of the manifest's topology", verified.Reason);
        AssertRestoreRefusesBeforeTouchingADevice(dir, ImageFileName.Kfd(1));
    }

    [Theory]
    [InlineData("files", null)]
    [InlineData("source", null)]
    [InlineData("topology", null)]
    [InlineData("links", "[{\"render_node_id\": 2}]")]
    [InlineData("files", "[null]")]
    public void A_missing_or_null_member_is_refused_naming_manifest_json_and_verify_json_still_answers(string member, string? json)
    {
        var dir = image.Copy();
        ImageForge.Reseal(dir, m => m[member] = json is null ? null : JsonNode.Parse(json));

        var r = GpuckptProcess.Run("verify", dir, "--json", "--allow-unsigned");
        Assert.Equal(1, r.ExitCode);
        var verdict = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.False(verdict.GetProperty("ok").GetBoolean());
        Assert.Equal(ImageManifest.FileName, verdict.GetProperty("file").GetString());
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("gpuckpt: manifest.json: ", line);
        foreach (var leak in new[] { "System.", "Parameter '", "discriminator", "Exception" }) Assert.DoesNotContain(leak, line);
    }

    /// <summary>`gpuckpt restore` fails with one line naming the file, and no process was created in between.</summary>
    private void AssertRestoreRefusesBeforeTouchingADevice(string dir, string file)
    {
        var before = image.Client.Spawn(WorkloadRequest.Named("tiny", 1));
        var r = GpuckptProcess.RunAsync(["restore", "--driver", image.Driver, "--images", dir, "--state-dir", dir + "-state", "--allow-unsigned"],
            timeout: TimeSpan.FromMinutes(2)).GetAwaiter().GetResult();
        var after = image.Client.Spawn(WorkloadRequest.Named("tiny", 1));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(file, r.Stderr);
        Assert.True(after == before + 1, $"a process was created and removed in between (pids {before} then {after}): {r}");
        image.Client.Kill(before);
        image.Client.Kill(after);
    }
}
