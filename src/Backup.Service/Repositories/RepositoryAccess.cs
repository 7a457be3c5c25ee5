using System.Security.Cryptography;
using Backup.Repository;
using Backup.Repository.Backends.Factory;
using Backup.Service.Data;

namespace Backup.Service.Repositories;

/// <summary>
/// Opens the repositories the appliance writes to. A repository is named by its URL (folder path, relative paths
/// resolved against the data folder; s3://bucket/prefix; azure://container/prefix) and a passphrase source:
/// "default" (the data folder's repository.key, created with a random passphrase, mode 0600, when the repository
/// is created), "env:VAR" or "file:PATH". A local repository that does not exist yet is created on first use;
/// a remote one must have been created with `backup repo init`.
/// </summary>
public sealed class RepositoryAccess
{
    public const string DefaultPassphrase = "default";
    private readonly ApplianceData _data;

    public RepositoryAccess(ApplianceData data) => _data = data ?? throw new ArgumentNullException(nameof(data));

    /// <summary>The URL as stored in the catalog: local paths absolute, remote URLs as given.</summary>
    public string Normalize(string url)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        return RepositoryBackendFactory.LocalFolder(url) is { } path ? Path.GetFullPath(path, _data.Root) : url;
    }

    /// <summary>Opens (or, for a local folder, creates) the repository. Errors name the repository and what is wrong.</summary>
    public async Task<BackupRepository> OpenAsync(string url, string passphraseSource, CancellationToken cancellationToken = default)
    {
        string location = Normalize(url);
        var backend = RepositoryBackendFactory.Create(location);
        bool exists = await backend.ExistsAsync(BackupRepository.ConfigKey, cancellationToken).ConfigureAwait(false);
        if (!exists && RepositoryBackendFactory.LocalFolder(location) is null)
        {
            throw new InvalidOperationException($"no repository at {location}: create it first with `backup repo init --repo {location}`");
        }

        if (!exists)
        {
            string created = ReadPassphrase(passphraseSource, createDefault: true);
            return await BackupRepository.InitAsync(backend, created, cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        return await BackupRepository.OpenAsync(backend, ReadPassphrase(passphraseSource, createDefault: false), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The passphrase from its source; throws <see cref="InvalidOperationException"/> naming the source when it cannot be read.</summary>
    public string ReadPassphrase(string source, bool createDefault = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(source);
        if (source == DefaultPassphrase)
        {
            string path = _data.DefaultRepositoryKey;
            if (!File.Exists(path))
            {
                if (!createDefault)
                {
                    throw new InvalidOperationException($"the data folder's repository key {path} is missing: without it the default repository cannot be opened (restore the file, or give the passphrase with env: or file:)");
                }

                Directory.CreateDirectory(_data.Root);
                string generated = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
                var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows())
                {
                    options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                }

                using (var stream = new FileStream(path, options))
                using (var writer = new StreamWriter(stream))
                {
                    writer.WriteLine(generated);
                }

                return generated;
            }

            return FirstLine(path, "the data folder's repository key");
        }

        if (source.StartsWith("env:", StringComparison.Ordinal))
        {
            string variable = source[4..];
            return Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value
                ? value
                : throw new InvalidOperationException($"the passphrase variable {variable} is not set");
        }

        if (source.StartsWith("file:", StringComparison.Ordinal))
        {
            return FirstLine(Path.GetFullPath(source[5..], _data.Root), "the passphrase file");
        }

        throw new InvalidOperationException($"'{source}' is not a passphrase source (use default, env:VARIABLE or file:PATH)");
    }

    private static string FirstLine(string path, string what)
    {
        try
        {
            string line = File.ReadLines(path).FirstOrDefault()?.TrimEnd('\r') ?? string.Empty;
            return line.Length > 0 ? line : throw new InvalidOperationException($"{what} {path} is empty");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"cannot read {what} {path}: {e.Message}", e);
        }
    }
}
