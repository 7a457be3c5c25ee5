using System.Text.RegularExpressions;

namespace Backup.Network;

/// <summary>Names of networks: 1-63 of a-z, 0-9 and '-', starting and ending with a letter or digit (they are DNS labels too).</summary>
public static partial class NetworkName
{
    /// <summary>True when <paramref name="name"/> can name a network.</summary>
    public static bool IsValid(string? name) => name is not null && Pattern().IsMatch(name);

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad name and the rule.</summary>
    public static void Validate(string? name)
    {
        if (!IsValid(name))
        {
            throw new ArgumentException($"'{name}' is not a valid network name (1-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit)", nameof(name));
        }
    }

    /// <summary>A DNS label for a VM name (VM names may hold '_' and '.', labels may not: both become '-').</summary>
    public static string ToDnsLabel(string vmName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(vmName);
        string label = new([.. vmName.ToLowerInvariant().Select(c => c is '_' or '.' ? '-' : c)]);
        return label.Length > 63 ? label[..63] : label;
    }

    [GeneratedRegex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
