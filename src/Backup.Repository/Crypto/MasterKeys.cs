using System.Security.Cryptography;
using Backup.Repository.Blobs;

namespace Backup.Repository.Crypto;

/// <summary>The repository's three secrets: encryption key, chunk-id key and chunker key (format §3).</summary>
internal sealed class MasterKeys
{
    public const int KeyLength = 32;
    public const int SerializedLength = 3 * KeyLength;

    private MasterKeys(byte[] encryptionKey, byte[] idKey, byte[] chunkerKey)
    {
        EncryptionKey = encryptionKey;
        IdKey = idKey;
        ChunkerKey = chunkerKey;
    }

    public byte[] EncryptionKey { get; }

    public byte[] IdKey { get; }

    public byte[] ChunkerKey { get; }

    public static MasterKeys Generate() =>
        new(RandomNumberGenerator.GetBytes(KeyLength), RandomNumberGenerator.GetBytes(KeyLength), RandomNumberGenerator.GetBytes(KeyLength));

    public static MasterKeys Deserialize(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != SerializedLength)
        {
            throw new ArgumentException($"master keys are {SerializedLength} bytes, not {bytes.Length}", nameof(bytes));
        }

        return new MasterKeys(bytes[..KeyLength].ToArray(), bytes[KeyLength..(2 * KeyLength)].ToArray(), bytes[(2 * KeyLength)..].ToArray());
    }

    public byte[] Serialize() => [.. EncryptionKey, .. IdKey, .. ChunkerKey];

    /// <summary>The content id of a chunk: HMAC-SHA256 under the id key (format §4).</summary>
    public BlobId ComputeId(ReadOnlySpan<byte> content)
    {
        Span<byte> mac = stackalloc byte[BlobId.Length];
        HMACSHA256.HashData(IdKey, content, mac);
        return new BlobId(mac);
    }
}
