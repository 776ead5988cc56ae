using Gpuckpt.Engine.Tests.Images.Mutation;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

/// <summary>
/// An image holds the process's GPU memory: `gpuckpt checkpoint` makes its directory 0700 and every file 0600, whatever
/// the umask it runs under (the command inherits this process's, under which an ordinary file is group-readable).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ImageModeSpecs(RealImage image) : IClassFixture<RealImage>
{
    private const UnixFileMode Owner = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public void A_checkpoint_image_is_readable_by_its_owner_only()
    {
        var control = Path.Combine(Path.GetTempPath(), $"gpuckpt-umask-{Guid.NewGuid():N}");
        File.WriteAllText(control, "");
        var ordinary = File.GetUnixFileMode(control);
        File.Delete(control);

        Assert.Equal(Owner | UnixFileMode.UserExecute, File.GetUnixFileMode(image.Directory));
        var files = Directory.GetFiles(image.Directory);
        Assert.Equal(image.Files.Count, files.Length);
        foreach (var file in files)
        {
            var mode = File.GetUnixFileMode(file);
            Assert.True(mode == Owner, $"{Path.GetFileName(file)} is {mode}; an ordinary file made under this umask is {ordinary}");
        }
    }
}
