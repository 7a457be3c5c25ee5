namespace Backup.Repository.Errors;

/// <summary>
/// An object of the repository is missing, truncated, or fails authentication. The message names the object and
/// what it affects; <see cref="AffectedPoints"/> lists the restore points that cannot be fully restored because of it.
/// </summary>
public sealed class RepositoryCorruptException : Exception
{
    public RepositoryCorruptException(string objectKey, string message, IReadOnlyList<string>? affectedPoints = null, Exception? innerException = null)
        : base(Compose(objectKey, message, affectedPoints), innerException)
    {
        ObjectKey = objectKey;
        Problem = message;
        AffectedPoints = affectedPoints ?? [];
    }

    public RepositoryCorruptException() : base("repository object is damaged") { ObjectKey = string.Empty; AffectedPoints = []; }

    public RepositoryCorruptException(string message) : base(message) { ObjectKey = string.Empty; AffectedPoints = []; }

    public RepositoryCorruptException(string message, Exception innerException) : base(message, innerException) { ObjectKey = string.Empty; AffectedPoints = []; }

    /// <summary>Key of the damaged or missing object.</summary>
    public string ObjectKey { get; }

    /// <summary>What is wrong with the object, without its name.</summary>
    public string Problem { get; } = string.Empty;

    /// <summary>Restore points that depend on the object.</summary>
    public IReadOnlyList<string> AffectedPoints { get; }

    private static string Compose(string objectKey, string message, IReadOnlyList<string>? affectedPoints)
    {
        var text = $"'{objectKey}': {message}";
        return affectedPoints is { Count: > 0 } ? $"{text}; affects restore point(s) {string.Join(", ", affectedPoints)}" : text;
    }
}
