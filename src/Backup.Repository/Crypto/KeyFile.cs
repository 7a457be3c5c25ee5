using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Backup.Repository.Errors;

namespace Backup.Repository.Crypto;

/// <summary>Wraps the master keys under a passphrase with Argon2id + AES-256-GCM, and unwraps them (format §3).</summary>
internal static class KeyFile
{
    public const int Version = 1;
    private const string KdfName = "argon2id";
    private const int SaltLength = 32;
    private const int NonceLength = 12;
    private const int TagLength = 16;

    public static byte[] Create(MasterKeys keys, string passphrase, KdfParameters parameters, string repositoryId)
    {
        parameters.Validate("new key");
        var salt = RandomNumberGenerator.GetBytes(SaltLength);
        var nonce = RandomNumberGenerator.GetBytes(NonceLength);
        var kek = DeriveKey(passphrase, salt, parameters);
        var plaintext = keys.Serialize();
        var wrapped = new byte[plaintext.Length + TagLength];
        using (var aes = new AesGcm(kek, TagLength))
        {
            aes.Encrypt(nonce, plaintext, wrapped.AsSpan(0, plaintext.Length), wrapped.AsSpan(plaintext.Length), AssociatedData(repositoryId));
        }

        CryptographicOperations.ZeroMemory(kek);
        CryptographicOperations.ZeroMemory(plaintext);
        var document = new KeyFileDocument
        {
            Version = Version,
            Kdf = KdfName,
            MemoryKiB = parameters.MemoryKiB,
            Iterations = parameters.Iterations,
            Parallelism = parameters.Parallelism,
            Salt = Convert.ToBase64String(salt),
            Nonce = Convert.ToBase64String(nonce),
            Wrapped = Convert.ToBase64String(wrapped),
            Created = DateTimeOffset.UtcNow,
        };
        return JsonSerializer.SerializeToUtf8Bytes(document, RepositoryJson.Options);
    }

    /// <summary>Returns the master keys, or null when the passphrase does not open this key file.</summary>
    public static MasterKeys? TryUnwrap(byte[] content, string objectKey, string passphrase, string repositoryId)
    {
        KeyFileDocument? document;
        try
        {
            document = JsonSerializer.Deserialize<KeyFileDocument>(content, RepositoryJson.Options);
        }
        catch (JsonException exception)
        {
            throw new RepositoryCorruptException(objectKey, $"key file is not valid JSON ({exception.Message})", innerException: exception);
        }

        if (document is null)
        {
            throw new RepositoryCorruptException(objectKey, "key file is empty");
        }

        if (document.Version != Version)
        {
            throw new UnsupportedFormatVersionException(objectKey, "key file version", document.Version, Version);
        }

        if (document.Kdf != KdfName)
        {
            throw new RepositoryCorruptException(objectKey, $"key file names KDF '{document.Kdf}', only '{KdfName}' is supported");
        }

        byte[] salt, nonce, wrapped;
        try
        {
            salt = Convert.FromBase64String(document.Salt);
            nonce = Convert.FromBase64String(document.Nonce);
            wrapped = Convert.FromBase64String(document.Wrapped);
        }
        catch (FormatException exception)
        {
            throw new RepositoryCorruptException(objectKey, "key file holds invalid base64", innerException: exception);
        }

        if (salt.Length < 16 || nonce.Length != NonceLength || wrapped.Length != MasterKeys.SerializedLength + TagLength)
        {
            throw new RepositoryCorruptException(objectKey, "key file has a salt, nonce or wrapped key of the wrong length");
        }

        var parameters = new KdfParameters(document.MemoryKiB, document.Iterations, document.Parallelism);
        try
        {
            parameters.Validate(objectKey);
        }
        catch (ArgumentException exception)
        {
            throw new RepositoryCorruptException(objectKey, exception.Message, innerException: exception);
        }

        var kek = DeriveKey(passphrase, salt, parameters);
        var plaintext = new byte[MasterKeys.SerializedLength];
        try
        {
            using var aes = new AesGcm(kek, TagLength);
            aes.Decrypt(nonce, wrapped.AsSpan(0, plaintext.Length), wrapped.AsSpan(plaintext.Length), plaintext, AssociatedData(repositoryId));
            return MasterKeys.Deserialize(plaintext);
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(kek);
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private static byte[] DeriveKey(string passphrase, byte[] salt, KdfParameters parameters)
    {
        var password = Encoding.UTF8.GetBytes(passphrase);
        try
        {
            var key = new byte[MasterKeys.KeyLength];
            Argon2id.Derive(password, salt, parameters.MemoryKiB, parameters.Iterations, parameters.Parallelism, key);
            return key;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(password);
        }
    }

    private static byte[] AssociatedData(string repositoryId) => [.. "backup-repository key v1"u8, .. Convert.FromHexString(repositoryId)];
}
