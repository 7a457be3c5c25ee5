namespace Backup.Repository.Manifests;

/// <summary>The manifest of one restore point: the last object a backup writes (format §8).</summary>
public sealed record RestorePointManifest
{
    /// <summary>Manifest version this client writes.</summary>
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;

    /// <summary>Point id: <c>yyyyMMddTHHmmssZ-&lt;8 hex&gt;</c>.</summary>
    public string Id { get; init; } = string.Empty;

    public string Vm { get; init; } = string.Empty;

    public DateTimeOffset Time { get; init; }

    /// <summary>The previous point of the same VM this one was compared with, if any.</summary>
    public string? Parent { get; init; }

    /// <summary>The VM's configuration, if stored.</summary>
    public StreamManifest? Configuration { get; init; }

    public IReadOnlyList<DiskManifest> Disks { get; init; } = [];

    /// <summary>Memory and device state of the checkpoint, and other streams.</summary>
    public IReadOnlyList<StreamManifest> Streams { get; init; } = [];
}
