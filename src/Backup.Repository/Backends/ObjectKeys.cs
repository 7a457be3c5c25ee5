namespace Backup.Repository.Backends;

/// <summary>Key validation and prefix handling shared by the object-store backends.</summary>
internal static class ObjectKeys
{
    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="key"/> is a relative '/'-separated key without empty, '.' or '..' segments.</summary>
    public static void Validate(string key, string parameterName = "key")
    {
        ArgumentException.ThrowIfNullOrEmpty(key, parameterName);
        if (key.StartsWith('/') || key.Contains('\\', StringComparison.Ordinal) || key.Split('/').Any(part => part is "" or "." or ".."))
        {
            throw new ArgumentException($"'{key}' is not a valid object key", parameterName);
        }
    }

    /// <summary>Normalizes a store prefix: no leading '/', and a trailing '/' unless empty.</summary>
    public static string NormalizePrefix(string? prefix)
    {
        var trimmed = (prefix ?? string.Empty).Trim('/');
        if (trimmed.Length == 0)
        {
            return string.Empty;
        }

        Validate(trimmed, nameof(prefix));
        return trimmed + "/";
    }

    /// <summary>Copies the memory into a read-only stream without copying when it wraps an array.</summary>
    public static MemoryStream AsStream(ReadOnlyMemory<byte> data)
    {
        return System.Runtime.InteropServices.MemoryMarshal.TryGetArray(data, out var segment) && segment.Array is not null
            ? new MemoryStream(segment.Array, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(data.ToArray(), writable: false);
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes unless the stream ends first; returns how many were read.</summary>
    public static async Task<int> ReadFullyAsync(Stream stream, byte[] buffer, int count, CancellationToken cancellationToken)
    {
        var done = 0;
        while (done < count)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(done, count - done), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            done += read;
        }

        return done;
    }

    /// <summary>Checks a ranged read's arguments (the key's form, non-negative offset and length).</summary>
    public static void ValidateRange(string key, long offset, int length)
    {
        Validate(key);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
    }

    /// <summary>
    /// Reads exactly <paramref name="length"/> bytes of object <paramref name="key"/> from a response body: an object
    /// too large for one array is an <see cref="IOException"/>, a body that ends early is a transient failure.
    /// </summary>
    public static async Task<byte[]> ReadExactlyAsync(Stream stream, long length, string key, string location, CancellationToken cancellationToken)
    {
        if (length > Array.MaxLength)
        {
            throw new IOException($"object '{key}' in {location} is {length} bytes, too large to read whole");
        }

        var buffer = new byte[length];
        var read = await ReadFullyAsync(stream, buffer, buffer.Length, cancellationToken).ConfigureAwait(false);
        return read == buffer.Length
            ? buffer
            : throw new BackendTransientException($"reading '{key}' from {location} was cut short: {read} of {buffer.Length} bytes");
    }
}
