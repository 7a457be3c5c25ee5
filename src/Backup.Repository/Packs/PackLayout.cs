using Backup.Repository.Blobs;

namespace Backup.Repository.Packs;

/// <summary>Constants and object names of packs (format §6).</summary>
public static class PackLayout
{
    /// <summary>Pack format version written in the footer.</summary>
    public const byte Version = 1;

    /// <summary>Footer: u32 trailer length, "BKPACK", version, 0.</summary>
    public const int FooterLength = 4 + 8;

    /// <summary>Prefix of pack objects.</summary>
    public const string Prefix = "packs/";

    /// <summary>Object key of a pack: <c>packs/&lt;2 hex&gt;/&lt;64 hex&gt;</c>.</summary>
    public static string KeyOf(BlobId packId)
    {
        var hex = packId.ToString();
        return $"packs/{hex[..2]}/{hex}";
    }

    internal static ReadOnlySpan<byte> Magic => "BKPACK"u8;
}
