using Backup.Repository.Backends;
using Backup.Repository.Backends.Factory;

namespace Backup.Cli.Commands;

/// <summary>
/// Turns a <c>--repo</c> value into a backend through <see cref="RepositoryBackendFactory"/>: a folder path (or
/// file:// URL), s3://bucket/prefix (endpoint and credentials from the URL or the standard AWS environment
/// variables) or azure://container/prefix (AZURE_STORAGE_CONNECTION_STRING). Malformed URLs are usage errors.
/// </summary>
internal static class RepositoryLocator
{
    /// <summary>Opens the backend; with <paramref name="mustExist"/> a missing local folder is a usage error, not an empty repository.</summary>
    public static IRepositoryBackend Open(string url, bool mustExist)
    {
        if (string.IsNullOrWhiteSpace(url))
        {
            throw new UsageException("--repo is empty: give a folder path, s3://bucket/prefix or azure://container/prefix");
        }

        try
        {
            if (mustExist && RepositoryBackendFactory.LocalFolder(url) is { } path && !File.Exists(Path.Combine(path, "config")))
            {
                throw new UsageException($"no repository at '{path}' (create one with: backup repo init --repo {path})");
            }

            return RepositoryBackendFactory.Create(url);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }
}
