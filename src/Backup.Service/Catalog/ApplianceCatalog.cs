using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Backup.Service.Catalog;

/// <summary>
/// The appliance's SQLite catalog (WAL mode): restore points, jobs and their history, and the VMs' last known
/// state. It is an index for fast listings, not the source of truth: <see cref="ReplacePoints"/> rebuilds a
/// repository's rows from the repository itself. Writers are the data folder's lock holder only; readers (the CLI
/// listing points while the service runs) may read at any time.
/// </summary>
public sealed class ApplianceCatalog : IDisposable
{
    // 1: the first schema; 2: points.consistency_note (why an application-consistent backup fell back to crash-consistent).
    private const int SchemaVersion = 2;
    private const string InsertPoint = """
        INSERT OR REPLACE INTO points (id, vm, time, repository, passphrase, parent, consistency, has_memory, disk_bytes, changed_bytes, stored_bytes, stun_ms, policy, consistency_note)
        VALUES ($id, $vm, $time, $repository, $passphrase, $parent, $consistency, $memory, $disk, $changed, $stored, $stun, $policy, $note)
        """;
    private readonly SqliteConnection _connection;
    private readonly Lock _gate = new();

    private ApplianceCatalog(SqliteConnection connection) => _connection = connection;

    public string Path { get; private init; } = string.Empty;

    /// <summary>Opens (creating if needed) the catalog at <paramref name="path"/>; a file that is not a catalog is refused by name.</summary>
    public static ApplianceCatalog Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, DefaultTimeout = 30 }.ToString());
        try
        {
            connection.Open();
            var catalog = new ApplianceCatalog(connection) { Path = path };
            catalog.Execute("PRAGMA busy_timeout = 10000");
            catalog.Execute("PRAGMA journal_mode = WAL");
            catalog.Execute("PRAGMA synchronous = NORMAL");
            catalog.Migrate();
            return catalog;
        }
        catch (SqliteException e)
        {
            connection.Dispose();
            throw new InvalidDataException($"the catalog {path} cannot be opened ({e.Message}); move it aside and run `backup catalog rebuild`", e);
        }
    }

    public void Dispose() => _connection.Dispose();

    // ---- points ----

    /// <summary>Adds or replaces a restore point.</summary>
    public void RecordPoint(PointRecord point)
    {
        ArgumentNullException.ThrowIfNull(point);
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = InsertPoint;
            BindPoint(command, point);
            command.ExecuteNonQuery();
        }
    }

    /// <summary>Points, oldest first; of one VM when <paramref name="vm"/> is given.</summary>
    public IReadOnlyList<PointRecord> ListPoints(string? vm = null)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT id, vm, time, repository, passphrase, parent, consistency, has_memory, disk_bytes, changed_bytes, stored_bytes, stun_ms, policy, consistency_note FROM points"
                + (vm is null ? string.Empty : " WHERE vm = $vm") + " ORDER BY time, id";
            if (vm is not null)
            {
                command.Parameters.AddWithValue("$vm", vm);
            }

            using var reader = command.ExecuteReader();
            var points = new List<PointRecord>();
            while (reader.Read())
            {
                points.Add(ReadPoint(reader));
            }

            return points;
        }
    }

    /// <summary>
    /// The point whose id is <paramref name="idOrPrefix"/> or starts with it (at least 6 characters), or
    /// "VM:latest" for a VM's newest point. Throws <see cref="ArgumentException"/> when none or several match.
    /// </summary>
    public PointRecord FindPoint(string idOrPrefix)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(idOrPrefix);
        if (idOrPrefix.EndsWith(":latest", StringComparison.Ordinal))
        {
            string vm = idOrPrefix[..^":latest".Length];
            var ofVm = ListPoints(vm);
            return ofVm.Count > 0 ? ofVm[^1] : throw new ArgumentException($"VM '{vm}' has no restore points in the catalog (see `backup points`)");
        }

        var matches = ListPoints().Where(p => p.Id.StartsWith(idOrPrefix, StringComparison.OrdinalIgnoreCase)).ToList();
        if (matches.Count == 1 && (idOrPrefix.Length >= 6 || matches[0].Id.Equals(idOrPrefix, StringComparison.OrdinalIgnoreCase)))
        {
            return matches[0];
        }

        if (matches.Count == 0)
        {
            throw new ArgumentException($"no restore point '{idOrPrefix}' in the catalog (see `backup points`; `backup catalog rebuild` re-reads the repositories)");
        }

        throw new ArgumentException(matches.Count == 1
            ? $"'{idOrPrefix}' is too short to name a restore point: give at least 6 characters of its id"
            : $"'{idOrPrefix}' matches {matches.Count} restore points: give more of the id");
    }

    /// <summary>Removes points (forgotten by retention).</summary>
    public void RemovePoints(IEnumerable<string> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        lock (_gate)
        {
            using var transaction = _connection.BeginTransaction();
            foreach (string id in ids)
            {
                using var command = _connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = "DELETE FROM points WHERE id = $id";
                command.Parameters.AddWithValue("$id", id);
                command.ExecuteNonQuery();
            }

            transaction.Commit();
        }
    }

    /// <summary>
    /// Rebuild: makes the catalog's points of <paramref name="repository"/> exactly <paramref name="points"/>, keeping
    /// what the catalog knew about points that are still there (how they were made) where the new rows do not say.
    /// </summary>
    public void ReplacePoints(string repository, IReadOnlyCollection<PointRecord> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        var known = ListPoints().Where(p => p.Repository == repository).ToDictionary(p => p.Id, StringComparer.Ordinal);
        lock (_gate)
        {
            using var transaction = _connection.BeginTransaction();
            using (var delete = _connection.CreateCommand())
            {
                delete.Transaction = transaction;
                delete.CommandText = "DELETE FROM points WHERE repository = $repository";
                delete.Parameters.AddWithValue("$repository", repository);
                delete.ExecuteNonQuery();
            }

            foreach (var fresh in points)
            {
                var point = known.TryGetValue(fresh.Id, out var old)
                    ? fresh with
                    {
                        Consistency = fresh.Consistency ?? old.Consistency,
                        ConsistencyNote = fresh.ConsistencyNote ?? old.ConsistencyNote,
                        ChangedBytes = old.ChangedBytes,
                        StoredBytes = old.StoredBytes,
                        Policy = old.Policy,
                    }
                    : fresh;
                using var insert = _connection.CreateCommand();
                insert.Transaction = transaction;
                insert.CommandText = InsertPoint;
                BindPoint(insert, point);
                insert.ExecuteNonQuery();
            }

            transaction.Commit();
        }
    }

    // ---- jobs ----

    /// <summary>Records a job as running and returns its id.</summary>
    public long StartJob(string kind, string vm, string? policy, string trigger)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "INSERT INTO jobs (kind, vm, policy, trigger, started, status) VALUES ($kind, $vm, $policy, $trigger, $started, $status) RETURNING id";
            command.Parameters.AddWithValue("$kind", kind);
            command.Parameters.AddWithValue("$vm", vm);
            command.Parameters.AddWithValue("$policy", (object?)policy ?? DBNull.Value);
            command.Parameters.AddWithValue("$trigger", trigger);
            command.Parameters.AddWithValue("$started", Format(DateTimeOffset.UtcNow));
            command.Parameters.AddWithValue("$status", JobStatus.Running);
            return (long)command.ExecuteScalar()!;
        }
    }

    public void FinishJob(long id, string status, string? message, string? point = null)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "UPDATE jobs SET ended = $ended, status = $status, message = $message, point = $point WHERE id = $id";
            command.Parameters.AddWithValue("$id", id);
            command.Parameters.AddWithValue("$ended", Format(DateTimeOffset.UtcNow));
            command.Parameters.AddWithValue("$status", status);
            command.Parameters.AddWithValue("$message", (object?)message ?? DBNull.Value);
            command.Parameters.AddWithValue("$point", (object?)point ?? DBNull.Value);
            command.ExecuteNonQuery();
        }
    }

    /// <summary>Marks jobs still "running" from a previous run of the appliance as interrupted; returns them.</summary>
    public IReadOnlyList<JobRecord> MarkInterruptedJobs()
    {
        var running = ListJobs(int.MaxValue, status: JobStatus.Running);
        foreach (var job in running)
        {
            FinishJob(job.Id, JobStatus.Interrupted, "the appliance stopped while this job ran; nothing it wrote was committed, and its leftovers were removed at the next start");
        }

        return running;
    }

    /// <summary>The newest <paramref name="limit"/> jobs, newest first; of one VM and with one status when given.</summary>
    public IReadOnlyList<JobRecord> ListJobs(int limit = 50, string? vm = null, string? status = null)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT id, kind, vm, policy, trigger, started, ended, status, message, point FROM jobs"
                + " WHERE ($vm IS NULL OR vm = $vm) AND ($status IS NULL OR status = $status) ORDER BY id DESC LIMIT $limit";
            command.Parameters.AddWithValue("$limit", limit);
            command.Parameters.AddWithValue("$vm", (object?)vm ?? DBNull.Value);
            command.Parameters.AddWithValue("$status", (object?)status ?? DBNull.Value);

            using var reader = command.ExecuteReader();
            var jobs = new List<JobRecord>();
            while (reader.Read())
            {
                jobs.Add(new JobRecord
                {
                    Id = reader.GetInt64(0),
                    Kind = reader.GetString(1),
                    Vm = reader.GetString(2),
                    Policy = reader.IsDBNull(3) ? null : reader.GetString(3),
                    Trigger = reader.GetString(4),
                    Started = Parse(reader.GetString(5)),
                    Ended = reader.IsDBNull(6) ? null : Parse(reader.GetString(6)),
                    Status = reader.GetString(7),
                    Message = reader.IsDBNull(8) ? null : reader.GetString(8),
                    Point = reader.IsDBNull(9) ? null : reader.GetString(9),
                });
            }

            return jobs;
        }
    }

    /// <summary>When a policy's job for a VM last started (any outcome but "skipped"), or null if never.</summary>
    public DateTimeOffset? LastRun(string policy, string vm)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT MAX(started) FROM jobs WHERE policy = $policy AND vm = $vm AND kind = 'backup' AND status <> 'skipped'";
            command.Parameters.AddWithValue("$policy", policy);
            command.Parameters.AddWithValue("$vm", vm);
            object? value = command.ExecuteScalar();
            return value is string text ? Parse(text) : null;
        }
    }

    // ---- VMs ----

    /// <summary>Records a VM's state change ("running", "stopped: reason").</summary>
    public void RecordVmState(string vm, string state)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "INSERT INTO vms (name, state, changed) VALUES ($name, $state, $changed) ON CONFLICT(name) DO UPDATE SET state = $state, changed = $changed";
            command.Parameters.AddWithValue("$name", vm);
            command.Parameters.AddWithValue("$state", state);
            command.Parameters.AddWithValue("$changed", Format(DateTimeOffset.UtcNow));
            command.ExecuteNonQuery();
        }
    }

    /// <summary>The last recorded state of each VM, with when it changed.</summary>
    public IReadOnlyDictionary<string, (string State, DateTimeOffset Changed)> VmStates()
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT name, state, changed FROM vms";
            using var reader = command.ExecuteReader();
            var states = new Dictionary<string, (string, DateTimeOffset)>(StringComparer.Ordinal);
            while (reader.Read())
            {
                states[reader.GetString(0)] = (reader.GetString(1), Parse(reader.GetString(2)));
            }

            return states;
        }
    }

    private void Migrate()
    {
        long version;
        using (var command = _connection.CreateCommand())
        {
            command.CommandText = "PRAGMA user_version";
            version = (long)command.ExecuteScalar()!;
        }

        if (version > SchemaVersion)
        {
            throw new InvalidDataException($"the catalog {Path} has schema version {version}, newer than this appliance's {SchemaVersion}; upgrade the appliance or run `backup catalog rebuild` into a new data folder");
        }

        if (version == SchemaVersion)
        {
            return;
        }

        using var transaction = _connection.BeginTransaction();
        using (var create = _connection.CreateCommand())
        {
            create.Transaction = transaction;
            create.CommandText = version == 0
                ? $"""
                    CREATE TABLE IF NOT EXISTS points (
                        id TEXT PRIMARY KEY, vm TEXT NOT NULL, time TEXT NOT NULL, repository TEXT NOT NULL, passphrase TEXT NOT NULL,
                        parent TEXT, consistency TEXT, has_memory INTEGER NOT NULL, disk_bytes INTEGER NOT NULL, changed_bytes INTEGER NOT NULL,
                        stored_bytes INTEGER NOT NULL, stun_ms REAL NOT NULL, policy TEXT, consistency_note TEXT);
                    CREATE INDEX IF NOT EXISTS points_vm ON points (vm, time);
                    CREATE TABLE IF NOT EXISTS jobs (
                        id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, vm TEXT NOT NULL, policy TEXT, trigger TEXT NOT NULL,
                        started TEXT NOT NULL, ended TEXT, status TEXT NOT NULL, message TEXT, point TEXT);
                    CREATE INDEX IF NOT EXISTS jobs_policy ON jobs (policy, vm, started);
                    CREATE TABLE IF NOT EXISTS vms (name TEXT PRIMARY KEY, state TEXT NOT NULL, changed TEXT NOT NULL);
                    PRAGMA user_version = {SchemaVersion};
                    """
                : $"""
                    ALTER TABLE points ADD COLUMN consistency_note TEXT;
                    PRAGMA user_version = {SchemaVersion};
                    """;
            create.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static void BindPoint(SqliteCommand command, PointRecord point)
    {
        command.Parameters.AddWithValue("$id", point.Id);
        command.Parameters.AddWithValue("$vm", point.Vm);
        command.Parameters.AddWithValue("$time", Format(point.Time));
        command.Parameters.AddWithValue("$repository", point.Repository);
        command.Parameters.AddWithValue("$passphrase", point.PassphraseSource);
        command.Parameters.AddWithValue("$parent", (object?)point.Parent ?? DBNull.Value);
        command.Parameters.AddWithValue("$consistency", (object?)point.Consistency ?? DBNull.Value);
        command.Parameters.AddWithValue("$memory", point.HasMemoryState ? 1 : 0);
        command.Parameters.AddWithValue("$disk", point.DiskBytes);
        command.Parameters.AddWithValue("$changed", point.ChangedBytes);
        command.Parameters.AddWithValue("$stored", point.StoredBytes);
        command.Parameters.AddWithValue("$stun", point.StunMilliseconds);
        command.Parameters.AddWithValue("$policy", (object?)point.Policy ?? DBNull.Value);
        command.Parameters.AddWithValue("$note", (object?)point.ConsistencyNote ?? DBNull.Value);
    }

    private static PointRecord ReadPoint(SqliteDataReader reader) => new()
    {
        Id = reader.GetString(0),
        Vm = reader.GetString(1),
        Time = Parse(reader.GetString(2)),
        Repository = reader.GetString(3),
        PassphraseSource = reader.GetString(4),
        Parent = reader.IsDBNull(5) ? null : reader.GetString(5),
        Consistency = reader.IsDBNull(6) ? null : reader.GetString(6),
        HasMemoryState = reader.GetInt64(7) != 0,
        DiskBytes = reader.GetInt64(8),
        ChangedBytes = reader.GetInt64(9),
        StoredBytes = reader.GetInt64(10),
        StunMilliseconds = reader.GetDouble(11),
        Policy = reader.IsDBNull(12) ? null : reader.GetString(12),
        ConsistencyNote = reader.IsDBNull(13) ? null : reader.GetString(13),
    };

    // Sortable text: the catalog orders and compares times as strings.
    private static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static DateTimeOffset Parse(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
