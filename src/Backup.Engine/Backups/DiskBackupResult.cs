namespace Backup.Engine.Backups;

/// <summary>What the backup of one disk read and why.</summary>
/// <param name="Name">The disk's name in the restore point (disk0, disk1, ...).</param>
/// <param name="Length">The disk's size in bytes.</param>
/// <param name="ChangedBytes">Bytes the changed-block map marked as changed (the whole disk on a full read).</param>
/// <param name="FullReadReason">Why every block was read, or null when only changed blocks were.</param>
public sealed record DiskBackupResult(string Name, long Length, long ChangedBytes, string? FullReadReason);
