using System.Globalization;

namespace Backup.Cli.Commands;

/// <summary>Parses sizes such as 512M, 1G, 1GiB; K/M/G/T are binary multiples; a bare number is scaled by 2^defaultShift.</summary>
public static class SizeParser
{
    public static bool TryParse(string text, out ulong bytes, int defaultShift = 0)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        string s = text.Trim().ToUpperInvariant();
        int shift = defaultShift;
        if (s.EndsWith("IB", StringComparison.Ordinal))
        {
            s = s[..^2];
        }
        else if (s.EndsWith('B'))
        {
            s = s[..^1];
            shift = 0; // "4096B": explicitly bytes, unless a unit letter precedes the B
        }

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
