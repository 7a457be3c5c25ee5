using Backup.Repository.Backends;
using Backup.Repository.Backends.Local;

namespace Backup.Cli.Commands;

/// <summary>
/// Turns a <c>--repo</c> value into a backend. Today: a folder path (or file:// URL) → <see cref="LocalFolderBackend"/>;
/// s3:// and azure:// are recognised and refused until the backend factory is wired in (this file is the only place
/// to change then: call <c>RepositoryBackendFactory.Create(url, options)</c>).
/// </summary>
internal static class RepositoryLocator
{
    /// <summary>Opens the backend; with <paramref name="mustExist"/> a missing folder is a usage error, not an empty repository.</summary>
    public static IRepositoryBackend Open(string url, bool mustExist)
    {
        if (string.IsNullOrWhiteSpace(url))
        {
            throw new UsageException("--repo is empty: give a folder path, s3://bucket/prefix or azure://container/prefix");
        }

        if (url.StartsWith("s3://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("azure://", StringComparison.OrdinalIgnoreCase))
        {
            throw new UsageException($"'{url}': S3 and Azure repositories are not yet wired into this command (use a folder path for now)");
        }

        if (url.Contains("://", StringComparison.Ordinal) && !url.StartsWith("file://", StringComparison.OrdinalIgnoreCase))
        {
            throw new UsageException($"'{url}': unknown repository scheme (expected a folder path, s3://, or azure://)");
        }

        var path = url.StartsWith("file://", StringComparison.OrdinalIgnoreCase) ? new Uri(url).LocalPath : url;
        if (mustExist && !File.Exists(Path.Combine(path, "config")))
        {
            throw new UsageException($"no repository at '{path}' (create one with: backup repo init --repo {path})");
        }

        return new LocalFolderBackend(path);
    }
}
