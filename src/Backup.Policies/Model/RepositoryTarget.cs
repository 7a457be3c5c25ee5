using System.Text.RegularExpressions;

namespace Backup.Policies.Model;

/// <summary>
/// Where a policy stores its restore points: a folder, an S3 bucket or an Azure container, as a repository URL the
/// repository backend factory understands. A relative folder path is resolved against the data folder at load time.
/// </summary>
public sealed partial class RepositoryTarget
{
    private static readonly string[] S3Parameters = ["endpoint", "region", "path-style", "create-only"];

    private RepositoryTarget(RepositoryKind kind, string url, string written)
    {
        Kind = kind;
        Url = url;
        Written = written;
    }

    /// <summary>Folder, S3 or Azure.</summary>
    public RepositoryKind Kind { get; }

    /// <summary>
    /// The URL to open: for a folder, the absolute path (relative paths resolved against the data folder,
    /// <c>file:///</c> URLs turned into paths); for S3 and Azure, the URL as written.
    /// </summary>
    public string Url { get; }

    /// <summary>The value as written in the policy file.</summary>
    public string Written { get; }

    /// <summary>
    /// Parses a repository URL; relative folder paths are resolved against <paramref name="dataFolder"/>.
    /// Throws <see cref="FormatException"/> saying what is wrong and what is expected.
    /// </summary>
    public static RepositoryTarget Parse(string text, string dataFolder)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentException.ThrowIfNullOrEmpty(dataFolder);
        const string Forms = "expected a folder path, file:///path, s3://bucket/prefix or azure://container/prefix";
        var written = text.Trim();
        if (written.Length == 0)
        {
            throw new FormatException($"the repository is empty; {Forms}");
        }

        var schemeEnd = written.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0)
        {
            if (written.Contains('\0', StringComparison.Ordinal))
            {
                throw new FormatException("the repository folder path contains a NUL character");
            }

            return new RepositoryTarget(RepositoryKind.Folder, Path.GetFullPath(written, Path.GetFullPath(dataFolder)), written);
        }

        var scheme = written[..schemeEnd];
        var rest = written[(schemeEnd + 3)..];
        switch (scheme)
        {
            case "file":
                if (!Uri.TryCreate(written, UriKind.Absolute, out var uri) || !uri.IsFile || !string.IsNullOrEmpty(uri.Host) || uri.LocalPath.Length <= 1)
                {
                    throw new FormatException($"'{written}' is not a local file URL (file:///absolute/path)");
                }

                return new RepositoryTarget(RepositoryKind.Folder, uri.LocalPath, written);
            case "s3":
            {
                var (bucket, query) = SplitRoot(written, rest, "bucket");
                if (!BucketName().IsMatch(bucket) || bucket.Contains("..", StringComparison.Ordinal))
                {
                    throw new FormatException($"'{written}': '{bucket}' is not a valid S3 bucket name (3-63 lower-case letters, digits, '.' and '-')");
                }

                foreach (var pair in query)
                {
                    var equals = pair.IndexOf('=', StringComparison.Ordinal);
                    var name = equals < 0 ? pair : pair[..equals];
                    if (equals <= 0)
                    {
                        throw new FormatException($"'{written}': query parameter '{pair}' is not name=value");
                    }

                    if (!S3Parameters.Contains(name, StringComparer.Ordinal))
                    {
                        throw new FormatException($"'{written}': unknown parameter '{name}' (s3 URLs accept {string.Join(", ", S3Parameters)})");
                    }
                }

                return new RepositoryTarget(RepositoryKind.S3, written, written);
            }

            case "azure":
            {
                var (container, query) = SplitRoot(written, rest, "container");
                if (!ContainerName().IsMatch(container) || container.Contains("--", StringComparison.Ordinal))
                {
                    throw new FormatException($"'{written}': '{container}' is not a valid Azure container name (3-63 lower-case letters, digits and single '-', starting with a letter or digit)");
                }

                if (query.Count > 0)
                {
                    throw new FormatException($"'{written}': azure URLs take no parameters (the account comes from AZURE_STORAGE_CONNECTION_STRING)");
                }

                return new RepositoryTarget(RepositoryKind.Azure, written, written);
            }

            default:
                throw new FormatException($"'{written}': unsupported scheme '{scheme}'; {Forms}");
        }
    }

    /// <summary>The URL to open.</summary>
    public override string ToString() => Url;

    private static (string Root, List<string> Query) SplitRoot(string written, string rest, string rootName)
    {
        var question = rest.IndexOf('?', StringComparison.Ordinal);
        var path = question < 0 ? rest : rest[..question];
        var query = question < 0 ? [] : rest[(question + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries).ToList();
        var slash = path.IndexOf('/', StringComparison.Ordinal);
        var root = slash < 0 ? path : path[..slash];
        if (root.Length == 0)
        {
            throw new FormatException($"'{written}' names no {rootName}");
        }

        return (root, query);
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", RegexOptions.CultureInvariant)]
    private static partial Regex BucketName();

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", RegexOptions.CultureInvariant)]
    private static partial Regex ContainerName();
}
