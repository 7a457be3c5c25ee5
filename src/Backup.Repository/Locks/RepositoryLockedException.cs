namespace Backup.Repository.Locks;

/// <summary>A lock could not be taken because another live lock conflicts with it.</summary>
public sealed class RepositoryLockedException : Exception
{
    public RepositoryLockedException(string message, IReadOnlyList<LockInfo> conflicting) : base(message) => Conflicting = conflicting;

    public RepositoryLockedException() : base("the repository is locked") => Conflicting = [];

    public RepositoryLockedException(string message) : base(message) => Conflicting = [];

    public RepositoryLockedException(string message, Exception innerException) : base(message, innerException) => Conflicting = [];

    /// <summary>The locks in the way.</summary>
    public IReadOnlyList<LockInfo> Conflicting { get; }
}
