using System.Globalization;
using System.Security.Cryptography;

namespace Backup.Repository.Manifests;

/// <summary>Restore point ids: <c>yyyyMMddTHHmmssZ-&lt;8 hex&gt;</c>, sortable by time without decrypting.</summary>
public static class PointIds
{
    /// <summary>A new id for a point taken at <paramref name="time"/>.</summary>
    public static string New(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture) + "-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));

    /// <summary>True when <paramref name="id"/> has the shape of a point id (so it is safe inside an object key).</summary>
    public static bool IsValid(string id) =>
        id is { Length: 25 } && id[8] == 'T' && id[15] == 'Z' && id[16] == '-' && id.All(c => char.IsAsciiDigit(c) || c is 'T' or 'Z' or '-' || char.IsAsciiHexDigitLower(c));
}
