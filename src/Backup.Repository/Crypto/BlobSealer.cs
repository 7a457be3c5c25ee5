using System.Buffers;
using System.Security.Cryptography;
using Backup.Repository.Errors;
using ZstdSharp;

namespace Backup.Repository.Crypto;

/// <summary>
/// Seals and opens blobs (format §5): <c>version ‖ nonce ‖ AES-256-GCM(compression byte ‖ payload) ‖ tag</c>,
/// compressing with zstd when that makes the payload smaller. Safe to use from several threads.
/// </summary>
internal sealed class BlobSealer : IDisposable
{
    public const byte EncodingVersion = 1;
    public const int NonceLength = 12;
    public const int TagLength = 16;
    public const int Overhead = 1 + NonceLength + 1 + TagLength;
    private const int SampleBytes = 2048;
    private const int Samples = 8;
    private const int SampledPayloadBytes = 64 * 1024;
    private const byte Stored = 0;
    private const byte Zstd = 1;

    private readonly byte[] _key;
    private readonly int _compressionLevel;
    private readonly ThreadLocal<AesGcm> _aes;
    private readonly ThreadLocal<Compressor> _compressor;
    private readonly ThreadLocal<Decompressor> _decompressor;
    private readonly ThreadLocal<NativeZstd.Context>? _native;

    /// <summary>
    /// A sealer for <paramref name="encryptionKey"/>; chunks are compressed and decompressed by the system's zstd library
    /// when it is available (<see cref="NativeZstd"/>) unless <paramref name="useNativeZstd"/> is false.
    /// </summary>
    public BlobSealer(byte[] encryptionKey, int compressionLevel = 3, bool useNativeZstd = true)
    {
        _key = encryptionKey;
        _compressionLevel = compressionLevel;
        _aes = new ThreadLocal<AesGcm>(() => new AesGcm(_key, TagLength), trackAllValues: true);
        _compressor = new ThreadLocal<Compressor>(() => new Compressor(_compressionLevel), trackAllValues: true);
        _decompressor = new ThreadLocal<Decompressor>(() => new Decompressor(), trackAllValues: true);
        _native = useNativeZstd && NativeZstd.Available ? new ThreadLocal<NativeZstd.Context>(() => new NativeZstd.Context(_compressionLevel), trackAllValues: true) : null;
    }

    /// <summary>True when chunks go through the system's zstd library rather than the managed port.</summary>
    public bool UsesNativeZstd => _native is not null;

    /// <summary>Compresses (when it helps) and encrypts <paramref name="payload"/>.</summary>
    public byte[] Seal(ReadOnlySpan<byte> payload, ReadOnlySpan<byte> associatedData, bool compress = true)
    {
        var scratch = ArrayPool<byte>.Shared.Rent(MaxSealedLength(payload.Length));
        try
        {
            var length = SealInto(payload, associatedData, scratch, compress);
            return scratch.AsSpan(0, length).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>The largest sealed form of a payload of <paramref name="payloadLength"/> bytes (what <see cref="SealInto"/> needs).</summary>
    public static int MaxSealedLength(int payloadLength) =>
        1 + NonceLength + 1 + Math.Max(Compressor.GetCompressBound(payloadLength), payloadLength) + TagLength;

    /// <summary>
    /// As <see cref="Seal"/>, into <paramref name="destination"/> (at least <see cref="MaxSealedLength"/> bytes); returns the
    /// sealed length. The payload is compressed (or copied) straight into its place in the sealed form and encrypted there
    /// in place: no intermediate buffer, no allocation.
    /// </summary>
    public int SealInto(ReadOnlySpan<byte> payload, ReadOnlySpan<byte> associatedData, Span<byte> destination, bool compress = true)
    {
        if (destination.Length < MaxSealedLength(payload.Length))
        {
            throw new ArgumentException($"a sealed blob of a {payload.Length}-byte payload needs {MaxSealedLength(payload.Length)} bytes", nameof(destination));
        }

        const int PlainStart = 1 + NonceLength;
        var body = destination[(PlainStart + 1)..^TagLength];
        var plainLength = 0;
        if (compress && payload.Length > 64 && !LooksIncompressible(payload, body))
        {
            var compressed = Compress(payload, body);
            if (compressed < payload.Length)
            {
                destination[PlainStart] = Zstd;
                plainLength = 1 + compressed;
            }
        }

        if (plainLength == 0)
        {
            destination[PlainStart] = Stored;
            payload.CopyTo(body);
            plainLength = 1 + payload.Length;
        }

        destination[0] = EncodingVersion;
        var nonce = destination.Slice(1, NonceLength);
        RandomNumberGenerator.Fill(nonce);
        var plain = destination.Slice(PlainStart, plainLength);
        _aes.Value!.Encrypt(nonce, plain, plain, destination.Slice(PlainStart + plainLength, TagLength), associatedData);
        return PlainStart + plainLength + TagLength;
    }

    /// <summary>
    /// True when <see cref="Samples"/> evenly spaced 2 KiB samples of a large payload each shrink by less than 1/32 under
    /// zstd: random, already compressed or encrypted data, which is then stored without running zstd over all of it (zstd
    /// would not make it smaller; format §5 stores such payloads uncompressed either way). A payload with any compressible
    /// sample is compressed whole as before, so a compressible stretch longer than the sample spacing (32 KiB in a
    /// 256 KiB chunk) is never missed.
    /// </summary>
    private bool LooksIncompressible(ReadOnlySpan<byte> payload, Span<byte> scratch)
    {
        if (payload.Length < SampledPayloadBytes)
        {
            return false;
        }

        var stride = (payload.Length - SampleBytes) / (Samples - 1);
        for (var i = 0; i < Samples; i++)
        {
            if (Compress(payload.Slice(i * stride, SampleBytes), scratch) < SampleBytes - (SampleBytes / 32))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Authenticates, decrypts and decompresses a sealed blob. <paramref name="what"/> names it in errors
    /// (for example "blob 1a2b… in pack packs/…"); <paramref name="expectedLength"/>, when known, is checked.
    /// </summary>
    public byte[] Open(ReadOnlySpan<byte> sealedBlob, ReadOnlySpan<byte> associatedData, string objectKey, string what, int expectedLength = -1)
    {
        if (expectedLength >= 0)
        {
            var output = new byte[expectedLength];
            OpenInto(sealedBlob, associatedData, objectKey, what, output);
            return output;
        }

        var plain = Decrypt(sealedBlob, associatedData, objectKey, what, out var plainLength);
        try
        {
            var body = plain.AsSpan(1, plainLength - 1);
            if (plain[0] == Stored)
            {
                return body.ToArray();
            }

            try
            {
                return _decompressor.Value!.Unwrap(body).ToArray();
            }
            catch (ZstdException exception)
            {
                throw new RepositoryCorruptException(objectKey, $"{what} does not decompress ({exception.Message})", innerException: exception);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(plain);
        }
    }

    /// <summary>
    /// Checks that a sealed blob authenticates under <paramref name="associatedData"/> (AES-GCM tag) without decompressing
    /// it; throws <see cref="RepositoryCorruptException"/> like <see cref="Open"/> when it does not. For copying sealed
    /// blobs unchanged (gc repack, copy), where the content itself is not needed.
    /// </summary>
    public void Authenticate(ReadOnlySpan<byte> sealedBlob, ReadOnlySpan<byte> associatedData, string objectKey, string what)
    {
        var plain = Decrypt(sealedBlob, associatedData, objectKey, what, out _);
        ArrayPool<byte>.Shared.Return(plain);
    }

    /// <summary>
    /// Like <see cref="Open"/>, into <paramref name="destination"/>, whose length is the blob's expected plain length
    /// (a blob of another length is reported as corrupt). Allocates nothing per blob.
    /// </summary>
    public void OpenInto(ReadOnlySpan<byte> sealedBlob, ReadOnlySpan<byte> associatedData, string objectKey, string what, Span<byte> destination)
    {
        var expectedLength = destination.Length;
        var plain = Decrypt(sealedBlob, associatedData, objectKey, what, out var plainLength);
        try
        {
            var body = plain.AsSpan(1, plainLength - 1);
            if (plain[0] == Stored)
            {
                if (body.Length != expectedLength)
                {
                    throw new RepositoryCorruptException(objectKey, $"{what} holds {body.Length} bytes, the index says {expectedLength}");
                }

                body.CopyTo(destination);
                return;
            }

            int written;
            if (_native is not null)
            {
                written = _native.Value!.Decompress(body, destination);
                if (written < 0)
                {
                    throw new RepositoryCorruptException(objectKey, $"{what} does not decompress to the {expectedLength} bytes the index says");
                }
            }
            else
            {
                try
                {
                    written = _decompressor.Value!.Unwrap(body, destination);
                }
                catch (ZstdException exception)
                {
                    throw new RepositoryCorruptException(objectKey, $"{what} does not decompress to the {expectedLength} bytes the index says ({exception.Message})", innerException: exception);
                }
            }

            if (written != expectedLength)
            {
                throw new RepositoryCorruptException(objectKey, $"{what} decompresses to {written} bytes, the index says {expectedLength}");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(plain);
        }
    }

    public void Dispose()
    {
        foreach (var aes in _aes.Values)
        {
            aes.Dispose();
        }

        foreach (var compressor in _compressor.Values)
        {
            compressor.Dispose();
        }

        foreach (var decompressor in _decompressor.Values)
        {
            decompressor.Dispose();
        }

        if (_native is not null)
        {
            foreach (var context in _native.Values)
            {
                context.Dispose();
            }

            _native.Dispose();
        }

        _aes.Dispose();
        _compressor.Dispose();
        _decompressor.Dispose();
    }

    private int Compress(ReadOnlySpan<byte> source, Span<byte> destination) =>
        _native is not null ? _native.Value!.Compress(source, destination) : _compressor.Value!.Wrap(source, destination);

    /// <summary>
    /// Authenticates and decrypts a sealed blob into a buffer rented from the shared pool (the caller returns it):
    /// its first byte is the compression type, checked here, then the body.
    /// </summary>
    private byte[] Decrypt(ReadOnlySpan<byte> sealedBlob, ReadOnlySpan<byte> associatedData, string objectKey, string what, out int plainLength)
    {
        if (sealedBlob.Length < Overhead)
        {
            throw new RepositoryCorruptException(objectKey, $"{what} is truncated ({sealedBlob.Length} bytes, a sealed blob has at least {Overhead})");
        }

        if (sealedBlob[0] != EncodingVersion)
        {
            throw new UnsupportedFormatVersionException(objectKey, $"{what} has blob encoding version", sealedBlob[0], EncodingVersion);
        }

        plainLength = sealedBlob.Length - 1 - NonceLength - TagLength;
        var plain = ArrayPool<byte>.Shared.Rent(plainLength);
        try
        {
            _aes.Value!.Decrypt(
                sealedBlob.Slice(1, NonceLength),
                sealedBlob.Slice(1 + NonceLength, plainLength),
                sealedBlob[^TagLength..],
                plain.AsSpan(0, plainLength),
                associatedData);
        }
        catch (AuthenticationTagMismatchException exception)
        {
            ArrayPool<byte>.Shared.Return(plain);
            throw new RepositoryCorruptException(objectKey, $"{what} fails authentication (corrupted, truncated or tampered with)", innerException: exception);
        }

        if (plain[0] is not (Stored or Zstd))
        {
            var type = plain[0];
            ArrayPool<byte>.Shared.Return(plain);
            throw new UnsupportedFormatVersionException(objectKey, $"{what} has compression type", type, Zstd);
        }

        return plain;
    }
}
