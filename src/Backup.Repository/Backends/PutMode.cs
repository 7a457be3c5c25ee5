namespace Backup.Repository.Backends;

/// <summary>What a put does when the key already exists.</summary>
public enum PutMode
{
    /// <summary>Replace the existing object (used for content-addressed objects, whose content cannot differ).</summary>
    Overwrite,

    /// <summary>Fail with <see cref="BackendObjectExistsException"/> if the key exists (locks, manifests).</summary>
    CreateNew,
}
