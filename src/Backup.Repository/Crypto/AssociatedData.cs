using System.Text;
using Backup.Repository.Blobs;

namespace Backup.Repository.Crypto;

/// <summary>The AES-GCM associated data that binds each sealed blob to its place (format §5).</summary>
internal static class AssociatedData
{
    public static byte[] ForBlob(BlobType type, BlobId id)
    {
        var data = new byte[4 + 1 + BlobId.Length];
        "blob"u8.CopyTo(data);
        data[4] = (byte)type;
        id.WriteTo(data.AsSpan(5));
        return data;
    }

    public static byte[] PackTrailer => "pack-trailer"u8.ToArray();

    public static byte[] Index => "index"u8.ToArray();

    public static byte[] ForPoint(string pointId) => Encoding.UTF8.GetBytes("point:" + pointId);
}
