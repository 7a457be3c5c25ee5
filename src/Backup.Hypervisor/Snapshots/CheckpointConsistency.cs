namespace Backup.Hypervisor.Snapshots;

/// <summary>What a checkpoint guarantees about the guest's data.</summary>
public enum CheckpointConsistency
{
    /// <summary>As if the power had been cut: file systems replay their journals, databases recover.</summary>
    CrashConsistent,

    /// <summary>Taken while the guest agent held the data file system frozen (flushed, no writes in flight).</summary>
    ApplicationConsistent,
}
