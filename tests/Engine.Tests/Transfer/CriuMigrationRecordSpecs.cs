using Gpuckpt.Engine.Transfer;
using Xunit;

namespace Gpuckpt.Engine.Tests.Transfer;

/// <summary>
/// The step a whole-process migration's source reached outlives its node: read back as last written (each step, with
/// the process's identity), replaced whole (no temporary file left), absent when nothing was written, and a file that
/// is not such a record, or of another format, is refused naming it.
/// </summary>
public sealed class CriuMigrationRecordSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gpuckpt-criu-record-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly ProcessIdentity Source = new(4242, "boot-1", "pid:[4026531836]", 987654321UL);

    [Fact]
    public void Each_step_reads_back_as_last_written_and_leaves_no_temporary_file()
    {
        Assert.Null(CriuMigrationRecord.Read(_dir));
        var record = CriuMigrationRecord.Start("migr-1", "a", "b", Source, underKernel: true);
        foreach (var step in new[] { CriuMigrationStep.Dumping, CriuMigrationStep.Dumped, CriuMigrationStep.Restoring })
        {
            (record with { Step = step }).Write(_dir);
            Assert.Equal(record with { Step = step }, CriuMigrationRecord.Read(_dir));
        }
        Assert.True(Source.SameAs(CriuMigrationRecord.Read(_dir)!.Source));
        Assert.Equal([CriuMigrationRecord.FileName], Directory.EnumerateFiles(_dir).Select(Path.GetFileName));
        Assert.Contains("\"step\":\"restoring\"", File.ReadAllText(Path.Combine(_dir, CriuMigrationRecord.FileName)));
    }

    [Theory]
    [InlineData("{\"format\": 1, \"migration_id\": ")]
    [InlineData("{\"format\": 1}")]
    [InlineData("{\"format\": 1, \"migration_id\": \"migr-1\", \"from\": \"a\", \"to\": \"b\", \"source\": {\"Pid\": 1, \"BootId\": \"x\", \"PidNamespace\": \"y\", \"StartTicks\": 2}, \"under_kernel\": false, \"step\": \"flying\"}")]
    public void A_file_that_is_not_a_record_is_refused_naming_it(string text)
    {
        var path = Path.Combine(_dir, CriuMigrationRecord.FileName);
        File.WriteAllText(path, text);

        var refused = Assert.Throws<InvalidDataException>(() => CriuMigrationRecord.Read(_dir));
        Assert.Contains(path, refused.Message);
    }

    [Fact]
    public void A_record_of_another_format_is_refused_naming_the_format()
    {
        (CriuMigrationRecord.Start("migr-1", "a", "b", Source, underKernel: false) with { Format = 7 }).Write(_dir);

        var refused = Assert.Throws<InvalidDataException>(() => CriuMigrationRecord.Read(_dir));
        Assert.Contains("format 7", refused.Message);
        Assert.Contains(Path.Combine(_dir, CriuMigrationRecord.FileName), refused.Message);
    }
}
