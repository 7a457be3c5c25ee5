namespace Backup.Hypervisor.Memory;

/// <summary>
/// Told by <see cref="PageWriteTracker"/> about pages that hold translated guest code (the translating tier of each
/// hart registers one).
/// </summary>
internal interface ICodePageObserver
{
    /// <summary>
    /// <paramref name="page"/> (index from RAM base) now holds translated code: drop any cached write permission
    /// for it, so the next store to it is reported to the tracker.
    /// </summary>
    void CodePageProtected(ulong page);

    /// <summary><paramref name="page"/> is about to be written: translated code from it must not run again.</summary>
    void CodePageWritten(ulong page);
}
