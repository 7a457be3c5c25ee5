using Backup.Service.Data;

namespace Backup.Service.Tests.Data;

public sealed class DataFolderLockTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("data-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_second_holder_is_refused_with_the_first_named_until_it_lets_go()
    {
        var data = new ApplianceData(_dir);
        using (var first = DataFolderLock.Acquire(data, "backup serve"))
        {
            Assert.Null(DataFolderLock.TryAcquire(data, "backup backup web", out string holder));
            Assert.Contains("backup serve", holder, StringComparison.Ordinal);
            Assert.Contains($"pid {Environment.ProcessId}", holder, StringComparison.Ordinal);
            var refused = Assert.Throws<DataFolderBusyException>(() => DataFolderLock.Acquire(data, "other"));
            Assert.Contains(data.Root, refused.Message, StringComparison.Ordinal);
        }

        using var again = DataFolderLock.Acquire(data, "backup backup web");
        Assert.NotNull(again);
    }

    [Fact]
    public void The_default_folder_comes_from_the_environment_or_the_home_folder()
    {
        Assert.Equal(Path.GetFullPath(_dir), ApplianceData.Resolve(_dir).Root);
        Assert.EndsWith("backup-appliance", ApplianceData.Resolve(null).Root, StringComparison.Ordinal);
    }
}
