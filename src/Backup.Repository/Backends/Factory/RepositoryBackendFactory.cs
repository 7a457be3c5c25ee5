using System.Text.RegularExpressions;
using Backup.Repository.Backends.Azure;
using Backup.Repository.Backends.Local;
using Backup.Repository.Backends.Resilience;
using Backup.Repository.Backends.S3;

namespace Backup.Repository.Backends.Factory;

/// <summary>
/// Turns a repository URL into a backend:
/// a folder path (or <c>file:///path</c>),
/// <c>s3://bucket/prefix[?endpoint=http://host:port&amp;region=r&amp;path-style=true|false&amp;create-only=auto|conditional|check-then-put]</c>,
/// or <c>azure://container/prefix</c>. The backend is wrapped in a <see cref="RetryingBackend"/>.
/// Malformed URLs raise <see cref="ArgumentException"/> saying what is wrong and what is expected.
/// </summary>
public static partial class RepositoryBackendFactory
{
    private const string Forms = "expected a folder path, file:///path, s3://bucket/prefix[?endpoint=...] or azure://container/prefix";

    /// <summary>Creates the backend <paramref name="url"/> names. No request is sent; a missing bucket or container shows up on first use.</summary>
    public static IRepositoryBackend Create(string url, RepositoryBackendOptions? options = null)
    {
        if (string.IsNullOrWhiteSpace(url))
        {
            throw new ArgumentException($"the repository URL is empty: {Forms}", nameof(url));
        }

        options ??= new RepositoryBackendOptions();
        url = url.Trim();
        IRepositoryBackend backend;
        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0)
        {
            backend = new LocalFolderBackend(url);
        }
        else
        {
            var scheme = url[..schemeEnd].ToLowerInvariant();
            var rest = url[(schemeEnd + 3)..];
            backend = scheme switch
            {
                "file" => CreateFolder(url),
                "s3" => CreateS3(url, rest, options),
                "azure" => CreateAzure(url, rest, options),
                _ => throw new ArgumentException($"'{url}': unsupported scheme '{scheme}'; {Forms}", nameof(url)),
            };
        }

        return new RetryingBackend(backend, options.Retry);
    }

    /// <summary>
    /// The folder a local repository URL names (a path as given, or the path of a <c>file:///</c> URL), or null when the
    /// URL names a remote repository (any other scheme). A malformed file URL raises <see cref="ArgumentException"/>.
    /// </summary>
    public static string? LocalFolder(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        url = url.Trim();
        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0)
        {
            return url;
        }

        return url[..schemeEnd].Equals("file", StringComparison.OrdinalIgnoreCase) ? FilePath(url) : null;
    }

    private static LocalFolderBackend CreateFolder(string url) => new(FilePath(url));

    private static string FilePath(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || !uri.IsFile || !string.IsNullOrEmpty(uri.Host) || uri.LocalPath.Length == 0)
        {
            throw new ArgumentException($"'{url}' is not a local file URL (file:///absolute/path)", nameof(url));
        }

        return uri.LocalPath;
    }

    private static S3Backend CreateS3(string url, string rest, RepositoryBackendOptions options)
    {
        var (bucket, prefix, query) = Split(url, rest, "bucket");
        if (!BucketName().IsMatch(bucket) || bucket.Contains("..", StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{url}': '{bucket}' is not a valid S3 bucket name (3-63 lower-case letters, digits, '.' and '-')", nameof(url));
        }

        Uri? endpoint = options.S3Endpoint;
        string? region = options.S3Region;
        bool? pathStyle = null;
        var createOnly = options.S3CreateOnly ?? S3CreateOnlyMode.Auto;
        foreach (var (name, value) in query)
        {
            switch (name)
            {
                case "endpoint":
                    endpoint = Uri.TryCreate(value, UriKind.Absolute, out var parsed) && parsed.Scheme is "http" or "https"
                        ? parsed
                        : throw new ArgumentException($"'{url}': endpoint '{value}' is not an http(s) URL", nameof(url));
                    break;
                case "region":
                    region = value.Length > 0 ? value : throw new ArgumentException($"'{url}': region is empty", nameof(url));
                    break;
                case "path-style":
                    pathStyle = bool.TryParse(value, out var flag) ? flag : throw new ArgumentException($"'{url}': path-style must be true or false, not '{value}'", nameof(url));
                    break;
                case "create-only":
                    createOnly = value switch
                    {
                        "auto" => S3CreateOnlyMode.Auto,
                        "conditional" => S3CreateOnlyMode.ConditionalWrite,
                        "check-then-put" => S3CreateOnlyMode.CheckThenPut,
                        _ => throw new ArgumentException($"'{url}': create-only must be auto, conditional or check-then-put, not '{value}'", nameof(url)),
                    };
                    break;
                default:
                    throw new ArgumentException($"'{url}': unknown parameter '{name}' (s3 URLs accept endpoint, region, path-style, create-only)", nameof(url));
            }
        }

        return new S3Backend(new S3BackendOptions
        {
            Bucket = bucket,
            Prefix = prefix,
            Endpoint = endpoint,
            Region = region,
            ForcePathStyle = pathStyle,
            AccessKeyId = options.S3AccessKeyId,
            SecretAccessKey = options.S3SecretAccessKey,
            CreateOnly = createOnly,
        });
    }

    private static AzureBlobBackend CreateAzure(string url, string rest, RepositoryBackendOptions options)
    {
        var (container, prefix, query) = Split(url, rest, "container");
        if (!ContainerName().IsMatch(container) || container.Contains("--", StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{url}': '{container}' is not a valid Azure container name (3-63 lower-case letters, digits and single '-', starting with a letter or digit)", nameof(url));
        }

        if (query.Count > 0)
        {
            throw new ArgumentException($"'{url}': azure URLs take no parameters (the account comes from the connection string, AZURE_STORAGE_CONNECTION_STRING)", nameof(url));
        }

        return new AzureBlobBackend(new AzureBlobBackendOptions { Container = container, Prefix = prefix, ConnectionString = options.AzureConnectionString });
    }

    private static (string Root, string Prefix, List<(string Name, string Value)> Query) Split(string url, string rest, string rootName)
    {
        var question = rest.IndexOf('?', StringComparison.Ordinal);
        var path = question < 0 ? rest : rest[..question];
        var query = new List<(string, string)>();
        if (question >= 0)
        {
            foreach (var pair in rest[(question + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0)
                {
                    throw new ArgumentException($"'{url}': query parameter '{pair}' is not name=value", nameof(url));
                }

                query.Add((Uri.UnescapeDataString(pair[..equals]).ToLowerInvariant(), Uri.UnescapeDataString(pair[(equals + 1)..])));
            }
        }

        var slash = path.IndexOf('/', StringComparison.Ordinal);
        var root = slash < 0 ? path : path[..slash];
        var prefix = slash < 0 ? string.Empty : path[(slash + 1)..];
        if (root.Length == 0)
        {
            throw new ArgumentException($"'{url}' names no {rootName}; {Forms}", nameof(url));
        }

        try
        {
            _ = ObjectKeys.NormalizePrefix(Uri.UnescapeDataString(prefix));
        }
        catch (ArgumentException exception)
        {
            throw new ArgumentException($"'{url}': the prefix '{prefix}' is not valid (no empty, '.' or '..' segments, no '\\')", nameof(url), exception);
        }

        return (root, Uri.UnescapeDataString(prefix), query);
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    private static partial Regex BucketName();

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")]
    private static partial Regex ContainerName();
}
