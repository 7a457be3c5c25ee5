namespace Backup.Repository.Locks;

/// <summary>What a lock allows others to do at the same time (format §12).</summary>
public enum LockKind
{
    /// <summary>Backup, restore, verify, copy, forget: any number may hold one together; excludes exclusive locks.</summary>
    Shared,

    /// <summary>Garbage collection (prune): excludes every other lock.</summary>
    Exclusive,
}
