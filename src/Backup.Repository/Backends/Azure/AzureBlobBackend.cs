using System.Globalization;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Azure;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;

namespace Backup.Repository.Backends.Azure;

/// <summary>
/// A repository in an Azure Blob Storage container, under an optional name prefix. Objects are block blobs written
/// by one Put Blob, or by staged blocks committed with one Put Block List, so readers never see a partial object;
/// create-only puts carry <c>If-None-Match: *</c>, which the service enforces atomically. Uploads carry Content-MD5
/// so damaged bytes are refused; reads check the byte count. The SDK's own retries are off:
/// <see cref="Resilience.RetryingBackend"/> retries, so an ambiguous create-only put is never repeated blindly.
/// </summary>
public sealed class AzureBlobBackend : IRepositoryBackend
{
    private readonly BlobContainerClient _container;
    private readonly AzureBlobBackendOptions _options;
    private readonly string _prefix;

    /// <summary>Connects to the container described by <paramref name="options"/> (no request is sent yet).</summary>
    public AzureBlobBackend(AzureBlobBackendOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.Container);
        if (options.BlockSize < 1 || options.StagedUploadThreshold < options.BlockSize)
        {
            throw new ArgumentException("the Azure block size must be positive and at most the staged-upload threshold", nameof(options));
        }

        if (options.ListPageSize is < 1 or > 5000)
        {
            throw new ArgumentException("the Azure list page size must be between 1 and 5000", nameof(options));
        }

        var connectionString = options.ConnectionString ?? Environment.GetEnvironmentVariable("AZURE_STORAGE_CONNECTION_STRING");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new ArgumentException("no Azure Storage connection string: set AZURE_STORAGE_CONNECTION_STRING or pass one in the options", nameof(options));
        }

        _options = options;
        _prefix = ObjectKeys.NormalizePrefix(options.Prefix);
        var clientOptions = new BlobClientOptions();
        clientOptions.Retry.MaxRetries = 0;
        clientOptions.Retry.NetworkTimeout = options.RequestTimeout;
        BlobServiceClient service;
        try
        {
            service = new BlobServiceClient(connectionString, clientOptions);
        }
        catch (FormatException exception)
        {
            throw new ArgumentException($"the Azure Storage connection string is malformed: {exception.Message}", nameof(options), exception);
        }

        _container = service.GetBlobContainerClient(options.Container);
        Location = $"azure://{options.Container}/{_prefix} at {service.Uri.GetLeftPart(UriPartial.Authority)}";
    }

    /// <inheritdoc />
    public string Location { get; }

    /// <inheritdoc />
    public async Task PutAsync(string key, ReadOnlyMemory<byte> data, PutMode mode, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        var blob = _container.GetBlockBlobClient(_prefix + key);
        var conditions = mode == PutMode.CreateNew ? new BlobRequestConditions { IfNoneMatch = ETag.All } : null;
        var validation = new UploadTransferValidationOptions { ChecksumAlgorithm = StorageChecksumAlgorithm.MD5 };
        try
        {
            if (data.Length < _options.StagedUploadThreshold)
            {
                using var stream = ObjectKeys.AsStream(data);
                await blob.UploadAsync(stream, new BlobUploadOptions { Conditions = conditions, TransferValidation = validation }, cancellationToken).ConfigureAwait(false);
                return;
            }

            // Block ids are unique to this upload, so a concurrent writer of the same key cannot mix its blocks in.
            var upload = Guid.NewGuid().ToString("N");
            var count = (int)((data.Length + (long)_options.BlockSize - 1) / _options.BlockSize);
            var ids = Enumerable.Range(0, count).Select(i => Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes($"{upload}-{i.ToString("D6", CultureInfo.InvariantCulture)}"))).ToArray();
            await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _options.BlockConcurrency), CancellationToken = cancellationToken }, async (index, token) =>
            {
                var offset = index * _options.BlockSize;
                using var stream = ObjectKeys.AsStream(data.Slice(offset, Math.Min(_options.BlockSize, data.Length - offset)));
                await blob.StageBlockAsync(ids[index], stream, new BlockBlobStageBlockOptions { TransferValidation = validation }, token).ConfigureAwait(false);
            }).ConfigureAwait(false);

            // Uncommitted blocks of a failed upload are invisible and discarded by the service after a week.
            await blob.CommitBlockListAsync(ids, new CommitBlockListOptions { Conditions = conditions }, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException exception) when (mode == PutMode.CreateNew && (exception.Status is 409 or 412) && exception.ErrorCode is "BlobAlreadyExists" or "ConditionNotMet" or null)
        {
            throw new BackendObjectExistsException(key, Location, exception);
        }
        catch (Exception exception) when (IsMappable(exception, cancellationToken))
        {
            throw Map(exception, "upload", key, cancellationToken);
        }
    }

    /// <inheritdoc />
    public async Task<byte[]> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        try
        {
            var response = await _container.GetBlobClient(_prefix + key).DownloadStreamingAsync(new BlobDownloadOptions(), cancellationToken).ConfigureAwait(false);
            using var result = response.Value;
            return await ObjectKeys.ReadExactlyAsync(result.Content, result.Details.ContentLength, key, Location, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (IsMappable(exception, cancellationToken))
        {
            throw Map(exception, "download", key, cancellationToken);
        }
    }

    /// <inheritdoc />
    public async Task<byte[]> GetRangeAsync(string key, long offset, int length, CancellationToken cancellationToken = default)
    {
        ObjectKeys.ValidateRange(key, offset, length);
        if (length == 0)
        {
            return await ExistsAsync(key, cancellationToken).ConfigureAwait(false) ? [] : throw new BackendObjectNotFoundException(key, Location);
        }

        try
        {
            var response = await _container.GetBlobClient(_prefix + key).DownloadStreamingAsync(new BlobDownloadOptions { Range = new HttpRange(offset, length) }, cancellationToken).ConfigureAwait(false);
            using var result = response.Value;
            var expected = result.Details.ContentLength;
            if (TryParseTotal(result.Details.ContentRange, out var total) && expected != Math.Min(length, total - offset))
            {
                throw new BackendTransientException($"reading '{key}' from {Location}: the service sent {expected} bytes for a range of {Math.Min(length, total - offset)}");
            }

            if (expected > length)
            {
                throw new IOException($"{Location} answered a range request for {length} bytes of '{key}' with {expected}");
            }

            return await ObjectKeys.ReadExactlyAsync(result.Content, expected, key, Location, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException exception) when (exception.Status == 416)
        {
            // The range starts at or past the end of an existing blob.
            return [];
        }
        catch (Exception exception) when (IsMappable(exception, cancellationToken))
        {
            throw Map(exception, "ranged download", key, cancellationToken);
        }
    }

    /// <inheritdoc />
    public async Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        try
        {
            return (await _container.GetBlobClient(_prefix + key).ExistsAsync(cancellationToken).ConfigureAwait(false)).Value;
        }
        catch (Exception exception) when (IsMappable(exception, cancellationToken))
        {
            throw Map(exception, "existence check", key, cancellationToken);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<BackendObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var pages = _container.GetBlobsAsync(new GetBlobsOptions { Prefix = _prefix + prefix }, cancellationToken).AsPages(pageSizeHint: _options.ListPageSize);
        await using var enumerator = pages.GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            Page<BlobItem> page;
            try
            {
                if (!await enumerator.MoveNextAsync().ConfigureAwait(false))
                {
                    yield break;
                }

                page = enumerator.Current;
            }
            catch (Exception exception) when (IsMappable(exception, cancellationToken))
            {
                throw Map(exception, "list", prefix, cancellationToken);
            }

            foreach (var item in page.Values)
            {
                if (item.Deleted || !item.Name.StartsWith(_prefix + prefix, StringComparison.Ordinal))
                {
                    continue;
                }

                yield return new BackendObjectInfo(item.Name[_prefix.Length..], item.Properties.ContentLength ?? 0, item.Properties.LastModified ?? item.Properties.CreatedOn ?? DateTimeOffset.MinValue);
            }
        }
    }

    /// <inheritdoc />
    public async Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        try
        {
            await _container.GetBlobClient(_prefix + key).DeleteIfExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (IsMappable(exception, cancellationToken))
        {
            throw Map(exception, "delete", key, cancellationToken);
        }
    }

    private static bool TryParseTotal(string? contentRange, out long total)
    {
        // "bytes 3-5/10"
        total = 0;
        var slash = contentRange?.LastIndexOf('/') ?? -1;
        return slash > 0 && long.TryParse(contentRange.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out total);
    }

    private static bool IsMappable(Exception exception, CancellationToken cancellationToken) =>
        exception is RequestFailedException or HttpRequestException or IOException or SocketException or AggregateException
        || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    private Exception Map(Exception exception, string operation, string key, CancellationToken cancellationToken)
    {
        switch (exception)
        {
            case AggregateException { InnerExceptions.Count: 1 } aggregate when IsMappable(aggregate.InnerExceptions[0], cancellationToken):
                return Map(aggregate.InnerExceptions[0], operation, key, cancellationToken);
            case RequestFailedException { ErrorCode: "ContainerNotFound" } failed:
                return new IOException($"{Location}: the container '{_options.Container}' does not exist", failed);
            case RequestFailedException { Status: 404 } failed:
                return new BackendObjectNotFoundException(key, Location, failed);
            case RequestFailedException failed when failed.Status is 0 or 408 or 429 or >= 500 || failed.ErrorCode is "Md5Mismatch" or "Crc64Mismatch" or "OperationTimedOut" or "ServerBusy":
                return new BackendTransientException($"Azure {operation} of '{key}' in {Location} failed: {failed.ErrorCode} ({failed.Status}) {FirstLine(failed.Message)}", failed);
            case RequestFailedException failed:
                return new IOException($"Azure {operation} of '{key}' in {Location} was refused: {failed.ErrorCode} ({failed.Status}) {FirstLine(failed.Message)}", failed);
            case OperationCanceledException when !cancellationToken.IsCancellationRequested:
                return new BackendTransientException($"Azure {operation} of '{key}' in {Location} timed out", exception);
            case IOException when exception.GetType() == typeof(IOException) && exception.InnerException is null:
                return exception;
            default:
                return new BackendTransientException($"Azure {operation} of '{key}' in {Location} failed: {exception.Message}", exception);
        }
    }

    private static string FirstLine(string message)
    {
        var newline = message.IndexOf('\n', StringComparison.Ordinal);
        return (newline < 0 ? message : message[..newline]).Trim();
    }
}
