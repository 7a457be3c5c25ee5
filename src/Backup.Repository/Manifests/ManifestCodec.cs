using System.Text.Json;
using Backup.Repository.Crypto;
using Backup.Repository.Errors;

namespace Backup.Repository.Manifests;

/// <summary>Seals and opens manifests: JSON, zstd-compressed, AES-256-GCM bound to the point id (format §8).</summary>
internal static class ManifestCodec
{
    public const string Prefix = "points/";

    public static string KeyOf(string pointId) => Prefix + pointId;

    public static byte[] Seal(RestorePointManifest manifest, BlobSealer sealer) =>
        sealer.Seal(JsonSerializer.SerializeToUtf8Bytes(manifest, RepositoryJson.Options), AssociatedData.ForPoint(manifest.Id));

    public static RestorePointManifest Open(byte[] sealedManifest, string pointId, BlobSealer sealer)
    {
        var key = KeyOf(pointId);
        var json = sealer.Open(sealedManifest, AssociatedData.ForPoint(pointId), key, "manifest");
        RestorePointManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<RestorePointManifest>(json, RepositoryJson.Options);
        }
        catch (JsonException exception)
        {
            throw new RepositoryCorruptException(key, $"manifest is not valid JSON ({exception.Message})", [pointId], exception);
        }

        if (manifest is null)
        {
            throw new RepositoryCorruptException(key, "manifest is empty", [pointId]);
        }

        if (manifest.Version != RestorePointManifest.CurrentVersion)
        {
            throw new UnsupportedFormatVersionException(key, "manifest version", manifest.Version, RestorePointManifest.CurrentVersion);
        }

        if (manifest.Id != pointId)
        {
            throw new RepositoryCorruptException(key, $"manifest names itself '{manifest.Id}'", [pointId]);
        }

        return manifest;
    }
}
