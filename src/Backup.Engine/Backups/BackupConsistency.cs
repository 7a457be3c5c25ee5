namespace Backup.Engine.Backups;

/// <summary>How a backup of a running VM is cut.</summary>
public enum BackupConsistency
{
    /// <summary>The VM is paused for the cut as if its power were pulled: what a journaling file system recovers from.</summary>
    Crash,

    /// <summary>The guest agent freezes the data file system for the cut; falls back to crash-consistent, saying why.</summary>
    Application,
}
