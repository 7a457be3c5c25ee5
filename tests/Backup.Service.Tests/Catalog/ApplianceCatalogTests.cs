using Backup.Service.Catalog;
using Microsoft.Data.Sqlite;

namespace Backup.Service.Tests.Catalog;

public sealed class ApplianceCatalogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catalog-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static PointRecord Point(string id, string vm, int minute, string repository = "/r") => new()
    {
        Id = id,
        Vm = vm,
        Time = new DateTimeOffset(2026, 11, 24, 10, minute, 0, TimeSpan.Zero),
        Repository = repository,
        PassphraseSource = "default",
        Consistency = "crash",
        ChangedBytes = 42,
        Policy = "p",
    };

    [Fact]
    public void Points_are_listed_oldest_first_and_found_by_id_prefix_or_latest()
    {
        using var catalog = ApplianceCatalog.Open(Path.Combine(_dir, "catalog.db"));
        catalog.RecordPoint(Point("20261124T101000Z-bbbbbbbb", "web", 10));
        catalog.RecordPoint(Point("20261124T100500Z-aaaaaaaa", "web", 5));
        catalog.RecordPoint(Point("20261124T100700Z-cccccccc", "db", 7));

        Assert.Equal(["20261124T100500Z-aaaaaaaa", "20261124T100700Z-cccccccc", "20261124T101000Z-bbbbbbbb"], catalog.ListPoints().Select(p => p.Id));
        Assert.Equal(2, catalog.ListPoints("web").Count);
        Assert.Equal("20261124T101000Z-bbbbbbbb", catalog.FindPoint("web:latest").Id);
        Assert.Equal("20261124T100700Z-cccccccc", catalog.FindPoint("20261124T1007").Id);
        Assert.Contains("matches 3", Assert.Throws<ArgumentException>(() => catalog.FindPoint("2026112")).Message, StringComparison.Ordinal);
        Assert.Contains("no restore point", Assert.Throws<ArgumentException>(() => catalog.FindPoint("nope")).Message, StringComparison.Ordinal);
        catalog.RecordPoint(Point("xyz123456789", "db", 8));
        Assert.Contains("at least 6", Assert.Throws<ArgumentException>(() => catalog.FindPoint("xyz")).Message, StringComparison.Ordinal);
        Assert.Equal("xyz123456789", catalog.FindPoint("xyz123").Id);
        Assert.Contains("no restore points", Assert.Throws<ArgumentException>(() => catalog.FindPoint("mail:latest")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rebuilding_a_repository_replaces_its_points_and_keeps_what_only_the_catalog_knew()
    {
        string path = Path.Combine(_dir, "catalog.db");
        using (var catalog = ApplianceCatalog.Open(path))
        {
            catalog.RecordPoint(Point("p-one-111111", "web", 1));
            catalog.RecordPoint(Point("p-gone-22222", "web", 2));
            catalog.RecordPoint(Point("p-other-3333", "web", 3, repository: "/elsewhere"));
        }

        using (var catalog = ApplianceCatalog.Open(path))
        {
            catalog.ReplacePoints("/r", [Point("p-one-111111", "web", 1) with { ChangedBytes = 0, Policy = null }, Point("p-new-444444", "web", 4) with { Policy = null }]);
            var points = catalog.ListPoints();
            Assert.Equal(["p-one-111111", "p-other-3333", "p-new-444444"], points.Select(p => p.Id));
            Assert.Equal(42, points[0].ChangedBytes);
            Assert.Equal("p", points[0].Policy);
        }
    }

    [Fact]
    public void Jobs_left_running_by_a_crash_are_marked_interrupted_at_the_next_open()
    {
        string path = Path.Combine(_dir, "catalog.db");
        long done, cut;
        using (var catalog = ApplianceCatalog.Open(path))
        {
            done = catalog.StartJob("backup", "web", "nightly", "schedule");
            catalog.FinishJob(done, JobStatus.Succeeded, "ok", "p1");
            cut = catalog.StartJob("backup", "web", "nightly", "schedule");
            Assert.NotNull(catalog.LastRun("nightly", "web"));
            Assert.Null(catalog.LastRun("nightly", "db"));
        }

        using (var catalog = ApplianceCatalog.Open(path))
        {
            var interrupted = catalog.MarkInterruptedJobs();
            Assert.Equal([cut], interrupted.Select(j => j.Id));
            var jobs = catalog.ListJobs();
            Assert.Equal(JobStatus.Interrupted, jobs.Single(j => j.Id == cut).Status);
            Assert.Equal(JobStatus.Succeeded, jobs.Single(j => j.Id == done).Status);
            Assert.Equal("p1", jobs.Single(j => j.Id == done).Point);
            Assert.Empty(catalog.MarkInterruptedJobs());
        }
    }

    [Fact]
    public void A_points_consistency_note_is_kept_and_a_first_version_catalog_gains_the_column_keeping_its_rows()
    {
        string path = Path.Combine(_dir, "catalog.db");
        using (var old = new SqliteConnection($"Data Source={path};Pooling=false"))
        {
            old.Open();
            using var command = old.CreateCommand();
            command.CommandText = """
                CREATE TABLE points (
                    id TEXT PRIMARY KEY, vm TEXT NOT NULL, time TEXT NOT NULL, repository TEXT NOT NULL, passphrase TEXT NOT NULL,
                    parent TEXT, consistency TEXT, has_memory INTEGER NOT NULL, disk_bytes INTEGER NOT NULL, changed_bytes INTEGER NOT NULL,
                    stored_bytes INTEGER NOT NULL, stun_ms REAL NOT NULL, policy TEXT);
                CREATE TABLE jobs (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, vm TEXT NOT NULL, policy TEXT, trigger TEXT NOT NULL,
                    started TEXT NOT NULL, ended TEXT, status TEXT NOT NULL, message TEXT, point TEXT);
                CREATE TABLE vms (name TEXT PRIMARY KEY, state TEXT NOT NULL, changed TEXT NOT NULL);
                INSERT INTO points VALUES ('p-old-111111', 'web', '2026-11-24T10:01:00.0000000Z', '/r', 'default', NULL, 'crash', 1, 10, 5, 4, 0.5, 'p');
                PRAGMA user_version = 1;
                """;
            command.ExecuteNonQuery();
        }

        const string Note = "the guest agent could not freeze the file system (FIFREEZE /data: Resource busy); the checkpoint is crash-consistent";
        using (var catalog = ApplianceCatalog.Open(path))
        {
            var kept = Assert.Single(catalog.ListPoints());
            Assert.Equal(("p-old-111111", "crash", (string?)null), (kept.Id, kept.Consistency, kept.ConsistencyNote));
            catalog.RecordPoint(Point("p-new-222222", "web", 2) with { ConsistencyNote = Note });
        }

        using (var catalog = ApplianceCatalog.Open(path))
        {
            Assert.Equal(Note, catalog.FindPoint("p-new-222222").ConsistencyNote);
            // A rebuild from a repository that does not say keeps what the catalog knew.
            catalog.ReplacePoints("/r", [Point("p-new-222222", "web", 2)]);
            Assert.Equal(Note, catalog.FindPoint("p-new-222222").ConsistencyNote);
        }
    }

    [Fact]
    public void A_file_that_is_not_a_catalog_is_refused_by_name()
    {
        string path = Path.Combine(_dir, "catalog.db");
        File.WriteAllText(path, "this is not a database, just some text that is long enough to fill a header page or so..........");
        var error = Assert.Throws<InvalidDataException>(() => ApplianceCatalog.Open(path));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("catalog rebuild", error.Message, StringComparison.Ordinal);
    }
}
