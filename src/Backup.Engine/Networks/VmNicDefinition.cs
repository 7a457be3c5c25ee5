namespace Backup.Engine.Networks;

/// <summary>One network card of a VM: the appliance network it is plugged into and its MAC address (aa:bb:cc:dd:ee:ff).</summary>
public sealed record VmNicDefinition
{
    /// <summary>The network's name (<c>backup network create</c>).</summary>
    public string Network { get; init; } = string.Empty;

    /// <summary>The card's MAC address; chosen at random in 52:54:00:xx:xx:xx when the VM is created without one.</summary>
    public string Mac { get; init; } = string.Empty;

    /// <summary>Parses the <c>--nic</c> text <c>network=NAME[,mac=aa:bb:cc:dd:ee:ff]</c>; the MAC is empty when not given.</summary>
    /// <exception cref="ArgumentException">The text names something unknown or malformed.</exception>
    public static VmNicDefinition Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string? network = null;
        string? mac = null;
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            int equals = part.IndexOf('=', StringComparison.Ordinal);
            string key = equals < 0 ? part : part[..equals];
            string value = equals < 0 ? string.Empty : part[(equals + 1)..];
            switch (key)
            {
                case "network" when network is null && value.Length > 0:
                    network = value;
                    break;
                case "mac" when mac is null && value.Length > 0:
                    mac = value;
                    break;
                default:
                    throw new ArgumentException($"--nic '{text}': '{part}' is not understood (expected network=NAME[,mac=aa:bb:cc:dd:ee:ff], each once)");
            }
        }

        if (network is null)
        {
            throw new ArgumentException($"--nic '{text}' names no network (expected network=NAME[,mac=aa:bb:cc:dd:ee:ff])");
        }

        return new VmNicDefinition { Network = network, Mac = mac ?? string.Empty };
    }

    /// <inheritdoc />
    public override string ToString() => Mac.Length == 0 ? $"network={Network}" : $"network={Network},mac={Mac}";
}
