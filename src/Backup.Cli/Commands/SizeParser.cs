using System.Globalization;

namespace Backup.Cli.Commands;

/// <summary>Parses sizes such as 512M, 1G, 1GiB, 65536 (bytes); K/M/G/T are binary multiples.</summary>
public static class SizeParser
{
    public static bool TryParse(string text, out ulong bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        string s = text.Trim().ToUpperInvariant();
        if (s.EndsWith("IB", StringComparison.Ordinal))
        {
            s = s[..^2];
        }
        else if (s.EndsWith('B'))
        {
            s = s[..^1];
        }

        int shift = 0;
        if (s.Length > 0 && char.IsLetter(s[^1]))
        {
            shift = s[^1] switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => -1 };
            if (shift < 0)
            {
                return false;
            }

            s = s[..^1];
        }

        if (!ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value) || value > (ulong.MaxValue >> shift))
        {
            return false;
        }

        bytes = value << shift;
        return true;
    }
}
