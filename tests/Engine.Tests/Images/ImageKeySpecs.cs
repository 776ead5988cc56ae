using Gpuckpt.Engine.Images;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

/// <summary>An engine's image key, made on first use: engines starting at the same moment all end up with one whole key.</summary>
public sealed class ImageKeySpecs : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-key-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Engines_making_the_key_at_the_same_moment_all_load_the_one_key_and_leave_nothing_else()
    {
        for (var round = 0; round < 20; round++)
        {
            var path = Path.Combine(_dir.FullName, $"state-{round}", "image.key");
            using var start = new Barrier(8);
            var ids = new string[8];
            var threads = Enumerable.Range(0, 8).Select(i => new Thread(() =>
            {
                start.SignalAndWait();
                ids[i] = ImageKey.LoadOrCreate(path).Id;
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());

            Assert.Single(ids.Distinct());
            Assert.Equal(ImageKey.Load(path).Id, ids[0]);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(["image.key"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
        }
    }
}
