using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Backup.Repository.Backends.S3;

/// <summary>
/// A repository in an S3 bucket (Amazon S3 or an S3-compatible server), under an optional key prefix.
/// Each object is one PUT (or one multipart upload, completed atomically) so readers never see a partial object;
/// every upload carries Content-MD5 so the service rejects bytes damaged in transit; reads check the byte count
/// against Content-Length / Content-Range. The SDK's own retries are off: <see cref="Resilience.RetryingBackend"/>
/// retries, so an ambiguous create-only put is never repeated blindly.
/// </summary>
public sealed class S3Backend : IRepositoryBackend, IDisposable
{
    private static readonly SemaphoreSlim[] CreateLocks = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    private readonly AmazonS3Client _client;
    private readonly S3BackendOptions _options;
    private readonly string _prefix;
    private readonly string _lockScope;
    private readonly Lazy<Task<bool>> _conditionalWrites;

    /// <summary>Connects to the bucket described by <paramref name="options"/> (no request is sent yet).</summary>
    public S3Backend(S3BackendOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.Bucket);
        if (options.PartSize < S3BackendOptions.MinimumPartSize)
        {
            throw new ArgumentException($"S3 part size must be at least {S3BackendOptions.MinimumPartSize} bytes", nameof(options));
        }

        if (options.MultipartThreshold < options.PartSize)
        {
            throw new ArgumentException("the multipart threshold must be at least the part size", nameof(options));
        }

        if (options.ListPageSize is < 1 or > 1000)
        {
            throw new ArgumentException("the S3 list page size must be between 1 and 1000", nameof(options));
        }

        _options = options;
        _prefix = ObjectKeys.NormalizePrefix(options.Prefix);
        var endpoint = options.Endpoint ?? EndpointFromEnvironment();
        var region = options.Region ?? Environment.GetEnvironmentVariable("AWS_REGION") ?? Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION") ?? "us-east-1";
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.ForcePathStyle ?? endpoint is not null,
            MaxErrorRetry = 0,
            Timeout = options.RequestTimeout,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (endpoint is null)
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(region);
        }
        else
        {
            config.ServiceURL = endpoint.AbsoluteUri;
            config.AuthenticationRegion = region;
        }

        var accessKey = options.AccessKeyId ?? Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID");
        var secretKey = options.SecretAccessKey ?? Environment.GetEnvironmentVariable("AWS_SECRET_ACCESS_KEY");
        var sessionToken = options.SessionToken ?? (options.AccessKeyId is null ? Environment.GetEnvironmentVariable("AWS_SESSION_TOKEN") : null);
        if (string.IsNullOrEmpty(accessKey) != string.IsNullOrEmpty(secretKey))
        {
            throw new ArgumentException("S3 credentials need both an access key id and a secret access key (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)", nameof(options));
        }

        _client = string.IsNullOrEmpty(accessKey)
            ? new AmazonS3Client(config)
            : string.IsNullOrEmpty(sessionToken)
                ? new AmazonS3Client(new BasicAWSCredentials(accessKey, secretKey), config)
                : new AmazonS3Client(new SessionAWSCredentials(accessKey, secretKey, sessionToken), config);
        Location = $"s3://{options.Bucket}/{_prefix}" + (endpoint is null ? string.Empty : $" at {endpoint.GetLeftPart(UriPartial.Authority)}");
        _lockScope = Location;
        _conditionalWrites = new Lazy<Task<bool>>(ProbeConditionalWritesAsync);
    }

    /// <inheritdoc />
    public string Location { get; }

    /// <summary>
    /// Whether create-only puts are enforced by the service (<c>If-None-Match: *</c>) rather than check-then-put;
    /// for <see cref="S3CreateOnlyMode.Auto"/> this probes the server once.
    /// </summary>
    public async Task<bool> UsesConditionalWritesAsync() => _options.CreateOnly switch
    {
        S3CreateOnlyMode.ConditionalWrite => true,
        S3CreateOnlyMode.CheckThenPut => false,
        _ => await _conditionalWrites.Value.ConfigureAwait(false),
    };

    /// <inheritdoc />
    public async Task PutAsync(string key, ReadOnlyMemory<byte> data, PutMode mode, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        if (mode == PutMode.Overwrite)
        {
            await UploadAsync(key, data, conditional: false, cancellationToken).ConfigureAwait(false);
            return;
        }

        bool conditional;
        try
        {
            conditional = await UsesConditionalWritesAsync().ConfigureAwait(false);
        }
        catch (Exception exception) when (IsMappable(exception, cancellationToken))
        {
            throw Map(exception, "probing conditional writes for", key, cancellationToken);
        }

        if (conditional)
        {
            await UploadAsync(key, data, conditional: true, cancellationToken).ConfigureAwait(false);
            return;
        }

        // Check-then-put: serialized per key inside this process; not atomic against other processes (documented).
        var gate = CreateLocks[(int)((uint)StringComparer.Ordinal.GetHashCode(_lockScope + "\n" + key) % (uint)CreateLocks.Length)];
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (await ExistsAsync(key, cancellationToken).ConfigureAwait(false))
            {
                throw new BackendObjectExistsException(key, Location);
            }

            await UploadAsync(key, data, conditional: false, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <inheritdoc />
    public async Task<byte[]> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        try
        {
            using var response = await _client.GetObjectAsync(new GetObjectRequest { BucketName = _options.Bucket, Key = _prefix + key }, cancellationToken).ConfigureAwait(false);
            return await ObjectKeys.ReadExactlyAsync(response.ResponseStream, response.ContentLength, key, Location, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (IsMappable(exception, cancellationToken))
        {
            throw Map(exception, "GET", key, cancellationToken);
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
            using var response = await _client.GetObjectAsync(new GetObjectRequest
            {
                BucketName = _options.Bucket,
                Key = _prefix + key,
                ByteRange = new ByteRange(offset, offset + length - 1),
            }, cancellationToken).ConfigureAwait(false);

            long skip = 0;
            long expected;
            if (response.HttpStatusCode == HttpStatusCode.PartialContent && TryParseContentRange(response.ContentRange, out var first, out var last, out var total))
            {
                if (first != offset)
                {
                    throw new IOException($"{Location} answered a range request for '{key}' at {offset} with bytes from {first}");
                }

                expected = Math.Min(length, total - offset);
                if (last - first + 1 != expected || response.ContentLength != expected)
                {
                    throw new BackendTransientException($"reading '{key}' from {Location}: the server sent {response.ContentLength} bytes for a range of {expected}");
                }
            }
            else
            {
                // The server ignored the range and sent the whole object.
                skip = offset;
                expected = Math.Max(0, Math.Min(length, response.ContentLength - offset));
            }

            if (skip > 0)
            {
                var discard = new byte[81920];
                var remaining = skip;
                while (remaining > 0)
                {
                    var read = await response.ResponseStream.ReadAsync(discard.AsMemory(0, (int)Math.Min(discard.Length, remaining)), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return [];
                    }

                    remaining -= read;
                }
            }

            return await ObjectKeys.ReadExactlyAsync(response.ResponseStream, expected, key, Location, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            // The range starts at or past the end of an existing object.
            return [];
        }
        catch (Exception exception) when (IsMappable(exception, cancellationToken))
        {
            throw Map(exception, "ranged GET", key, cancellationToken);
        }
    }

    /// <inheritdoc />
    public async Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        try
        {
            await _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _options.Bucket, Key = _prefix + key }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == HttpStatusCode.NotFound && exception.ErrorCode != "NoSuchBucket")
        {
            return false;
        }
        catch (Exception exception) when (IsMappable(exception, cancellationToken))
        {
            throw Map(exception, "HEAD", key, cancellationToken);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<BackendObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        string? continuation = null;
        do
        {
            ListObjectsV2Response page;
            try
            {
                page = await _client.ListObjectsV2Async(new ListObjectsV2Request
                {
                    BucketName = _options.Bucket,
                    Prefix = _prefix + prefix,
                    ContinuationToken = continuation,
                    MaxKeys = _options.ListPageSize,
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (IsMappable(exception, cancellationToken))
            {
                throw Map(exception, "LIST", prefix, cancellationToken);
            }

            foreach (var item in page.S3Objects ?? [])
            {
                if (item.Key is null || !item.Key.StartsWith(_prefix + prefix, StringComparison.Ordinal))
                {
                    continue;
                }

                var modified = item.LastModified is { } time ? new DateTimeOffset(time.ToUniversalTime(), TimeSpan.Zero) : DateTimeOffset.MinValue;
                yield return new BackendObjectInfo(item.Key[_prefix.Length..], item.Size ?? 0, modified);
            }

            continuation = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (!string.IsNullOrEmpty(continuation));
    }

    /// <inheritdoc />
    public async Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        try
        {
            await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _options.Bucket, Key = _prefix + key }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == HttpStatusCode.NotFound && exception.ErrorCode != "NoSuchBucket")
        {
            // Deleting a missing object is not an error.
        }
        catch (Exception exception) when (IsMappable(exception, cancellationToken))
        {
            throw Map(exception, "DELETE", key, cancellationToken);
        }
    }

    public void Dispose() => _client.Dispose();

    private static Uri? EndpointFromEnvironment()
    {
        var text = Environment.GetEnvironmentVariable("AWS_ENDPOINT_URL_S3") ?? Environment.GetEnvironmentVariable("AWS_ENDPOINT_URL");
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        return Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new ArgumentException($"AWS_ENDPOINT_URL '{text}' is not an http(s) URL");
    }

    private static string Md5Of(ReadOnlySpan<byte> data)
    {
#pragma warning disable CA5351 // Content-MD5 is S3's transport integrity check, not a security primitive.
        return Convert.ToBase64String(MD5.HashData(data));
#pragma warning restore CA5351
    }

    private static bool TryParseContentRange(string? header, out long first, out long last, out long total)
    {
        // "bytes 3-5/10"
        first = last = total = 0;
        if (header is null || !header.StartsWith("bytes ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var span = header.AsSpan(6);
        var dash = span.IndexOf('-');
        var slash = span.IndexOf('/');
        return dash > 0 && slash > dash
            && long.TryParse(span[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out first)
            && long.TryParse(span[(dash + 1)..slash], NumberStyles.None, CultureInfo.InvariantCulture, out last)
            && long.TryParse(span[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out total);
    }

    private async Task UploadAsync(string key, ReadOnlyMemory<byte> data, bool conditional, CancellationToken cancellationToken)
    {
        try
        {
            if (data.Length < _options.MultipartThreshold)
            {
                using var stream = ObjectKeys.AsStream(data);
                var request = new PutObjectRequest
                {
                    BucketName = _options.Bucket,
                    Key = _prefix + key,
                    InputStream = stream,
                    AutoCloseStream = false,
                    MD5Digest = Md5Of(data.Span),
                    UseChunkEncoding = false,
                };
                if (conditional)
                {
                    request.IfNoneMatch = "*";
                }

                await _client.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await UploadMultipartAsync(key, data, conditional, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (AmazonS3Exception exception) when (conditional && exception.StatusCode == HttpStatusCode.PreconditionFailed)
        {
            throw new BackendObjectExistsException(key, Location, exception);
        }
        catch (Exception exception) when (IsMappable(exception, cancellationToken))
        {
            throw Map(exception, "PUT", key, cancellationToken);
        }
    }

    private async Task UploadMultipartAsync(string key, ReadOnlyMemory<byte> data, bool conditional, CancellationToken cancellationToken)
    {
        var start = await _client.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _options.Bucket, Key = _prefix + key }, cancellationToken).ConfigureAwait(false);
        var uploadId = start.UploadId;
        try
        {
            var partCount = (int)((data.Length + (long)_options.PartSize - 1) / _options.PartSize);
            var etags = new PartETag[partCount];
            await Parallel.ForAsync(0, partCount, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _options.PartConcurrency), CancellationToken = cancellationToken }, async (index, token) =>
            {
                var offset = index * _options.PartSize;
                var part = data.Slice(offset, Math.Min(_options.PartSize, data.Length - offset));
                using var stream = ObjectKeys.AsStream(part);
                var response = await _client.UploadPartAsync(new UploadPartRequest
                {
                    BucketName = _options.Bucket,
                    Key = _prefix + key,
                    UploadId = uploadId,
                    PartNumber = index + 1,
                    InputStream = stream,
                    PartSize = part.Length,
                    MD5Digest = Md5Of(part.Span),
                    UseChunkEncoding = false,
                    IsLastPart = index == partCount - 1,
                }, token).ConfigureAwait(false);
                etags[index] = new PartETag(index + 1, response.ETag);
            }).ConfigureAwait(false);

            var complete = new CompleteMultipartUploadRequest
            {
                BucketName = _options.Bucket,
                Key = _prefix + key,
                UploadId = uploadId,
                PartETags = [.. etags],
            };
            if (conditional)
            {
                complete.IfNoneMatch = "*";
            }

            await _client.CompleteMultipartUploadAsync(complete, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            try
            {
                using var abortTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _options.Bucket, Key = _prefix + key, UploadId = uploadId }, abortTimeout.Token).ConfigureAwait(false);
            }
            catch (Exception abortFailure) when (IsMappable(abortFailure, CancellationToken.None))
            {
                // Best effort: an unfinished upload is invisible to readers; a bucket lifecycle rule reclaims it.
            }

            throw;
        }
    }

    private async Task<bool> ProbeConditionalWritesAsync()
    {
        // Two conditional PUTs of the same fresh key: a server that honours If-None-Match refuses the second.
        var probe = _prefix + ".create-only-probe-" + Guid.NewGuid().ToString("N");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        try
        {
            for (var attempt = 0; attempt < 2; attempt++)
            {
                try
                {
                    using var stream = new MemoryStream([], writable: false);
                    await _client.PutObjectAsync(new PutObjectRequest { BucketName = _options.Bucket, Key = probe, InputStream = stream, IfNoneMatch = "*" }, timeout.Token).ConfigureAwait(false);
                }
                catch (AmazonS3Exception exception) when (attempt == 1 && exception.StatusCode == HttpStatusCode.PreconditionFailed)
                {
                    return true;
                }
                catch (AmazonS3Exception exception) when (exception.StatusCode is HttpStatusCode.NotImplemented or HttpStatusCode.BadRequest)
                {
                    return false;
                }
            }

            return false;
        }
        finally
        {
            try
            {
                await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _options.Bucket, Key = probe }, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception exception) when (IsMappable(exception, CancellationToken.None))
            {
                // Best effort; the probe object is outside the repository's key space.
            }
        }
    }

    private static bool IsMappable(Exception exception, CancellationToken cancellationToken) =>
        exception is AmazonServiceException or AmazonClientException or HttpRequestException or IOException or SocketException
        || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    private Exception Map(Exception exception, string operation, string key, CancellationToken cancellationToken)
    {
        switch (exception)
        {
            case BackendTransientException or BackendObjectNotFoundException or BackendObjectExistsException:
                return exception;
            case AmazonS3Exception { ErrorCode: "NoSuchBucket" } s3:
                return new IOException($"{Location}: the bucket '{_options.Bucket}' does not exist ({s3.Message})", s3);
            case AmazonS3Exception { StatusCode: HttpStatusCode.NotFound } s3:
                return new BackendObjectNotFoundException(key, Location, s3);
            case AmazonS3Exception s3 when IsTransient(s3):
                return new BackendTransientException($"S3 {operation} of '{key}' in {Location} failed: {s3.ErrorCode} ({(int)s3.StatusCode}) {s3.Message}", s3);
            case AmazonS3Exception s3:
                return new IOException($"S3 {operation} of '{key}' in {Location} was refused: {s3.ErrorCode} ({(int)s3.StatusCode}) {s3.Message}", s3);
            case OperationCanceledException when !cancellationToken.IsCancellationRequested:
                return new BackendTransientException($"S3 {operation} of '{key}' in {Location} timed out", exception);
            case IOException when exception.GetType() != typeof(IOException) || exception.InnerException is not null:
                return new BackendTransientException($"S3 {operation} of '{key}' in {Location} failed: {exception.Message}", exception);
            case IOException:
                return exception;
            default:
                return new BackendTransientException($"S3 {operation} of '{key}' in {Location} failed: {exception.Message}", exception);
        }
    }

    private static bool IsTransient(AmazonS3Exception exception) =>
        (int)exception.StatusCode >= 500
        || exception.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout or HttpStatusCode.Conflict
        || exception.ErrorCode is "SlowDown" or "Throttling" or "ThrottlingException" or "RequestTimeout" or "RequestTimeTooSkewed"
            or "InternalError" or "ServiceUnavailable" or "BadDigest" or "IncompleteBody" or "ConditionalRequestConflict";
}
