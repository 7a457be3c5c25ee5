using System.Globalization;
using System.Net;
using Backup.Network.Endpoint;

namespace Backup.Network.Addressing;

/// <summary>An IPv4 subnet such as 10.3.0.0/24: its hosts, gateway (the first host) and broadcast address.</summary>
public sealed record Ipv4Subnet
{
    private Ipv4Subnet(uint network, int prefixLength)
    {
        NetworkValue = network;
        PrefixLength = prefixLength;
    }

    /// <summary>The prefix length (8 to 30).</summary>
    public int PrefixLength { get; }

    /// <summary>The network address.</summary>
    public IPAddress Network => ApplianceEndpoint.ToAddress(NetworkValue);

    /// <summary>The subnet mask.</summary>
    public IPAddress Mask => ApplianceEndpoint.ToAddress(MaskValue);

    /// <summary>The broadcast address.</summary>
    public IPAddress Broadcast => ApplianceEndpoint.ToAddress(NetworkValue | ~MaskValue);

    /// <summary>Hosts in the subnet (network and broadcast addresses excluded).</summary>
    public int HostCount => (int)(~MaskValue) - 1;

    internal uint NetworkValue { get; }

    internal uint MaskValue => uint.MaxValue << (32 - PrefixLength);

    /// <summary>Creates the subnet holding <paramref name="address"/> with the given prefix.</summary>
    public static Ipv4Subnet Create(IPAddress address, int prefixLength)
    {
        if (prefixLength is < 8 or > 30)
        {
            throw new ArgumentOutOfRangeException(nameof(prefixLength), prefixLength, "an appliance network's prefix is /8 to /30");
        }

        uint a = ApplianceEndpoint.ToUInt32(address);
        return new Ipv4Subnet(a & (uint.MaxValue << (32 - prefixLength)), prefixLength);
    }

    /// <summary>Parses "10.3.0.0/24"; throws <see cref="FormatException"/> naming the text.</summary>
    public static Ipv4Subnet Parse(string text)
    {
        string[] parts = (text ?? "").Split('/');
        if (parts.Length != 2 || !IPAddress.TryParse(parts[0], out var address)
            || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int prefix) || prefix is < 8 or > 30)
        {
            throw new FormatException($"'{text}' is not an IPv4 subnet such as 10.3.0.0/24 (prefix /8 to /30)");
        }

        return Create(address, prefix);
    }

    /// <summary>The default subnet of the network with this index: 10.N.0.0/24 (N from 1 to 254).</summary>
    public static Ipv4Subnet ForIndex(int index)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(index, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, 254);
        return new Ipv4Subnet((10u << 24) | ((uint)index << 16), 24);
    }

    /// <summary>The <paramref name="n"/>th host (1 is the first, the appliance's gateway by convention).</summary>
    public IPAddress Host(int n)
    {
        if (n < 1 || n > HostCount)
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, $"{this} has hosts 1 to {HostCount}");
        }

        return ApplianceEndpoint.ToAddress(NetworkValue + (uint)n);
    }

    /// <summary>True for a host address of the subnet (not the network or broadcast address).</summary>
    public bool ContainsHost(IPAddress address) =>
        address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && ContainsHost(ApplianceEndpoint.ToUInt32(address));

    internal bool ContainsHost(uint a) => (a & MaskValue) == NetworkValue && a != NetworkValue && a != (NetworkValue | ~MaskValue);

    /// <inheritdoc />
    public override string ToString() => $"{Network}/{PrefixLength}";
}
