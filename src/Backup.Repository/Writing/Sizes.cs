using System.Globalization;

namespace Backup.Repository.Writing;

/// <summary>Byte counts as an admin reads them: "10 GiB (10737418240 bytes)".</summary>
internal static class Sizes
{
    private static readonly string[] Units = ["KiB", "MiB", "GiB", "TiB", "PiB"];

    public static string Describe(long bytes)
    {
        if (bytes < 1024)
        {
            return bytes.ToString(CultureInfo.InvariantCulture) + " bytes";
        }

        var value = (double)bytes;
        var unit = -1;
        while (value >= 1024 && unit < Units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return string.Create(CultureInfo.InvariantCulture, $"{value:0.##} {Units[unit]} ({bytes} bytes)");
    }
}
