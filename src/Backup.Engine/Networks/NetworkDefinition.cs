using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Backup.Engine.Networks;

/// <summary>
/// A named network of the appliance: an isolated virtual switch with the appliance's own endpoint on it, serving DHCP
/// and DNS in <see cref="Subnet"/> (the endpoint is the subnet's first address, the router and name server the guests
/// are told about). No network reaches another or the host's own network; VMs reach the host only through their port
/// forwards. Stored as JSON in the data folder (<c>networks/NAME/network.json</c>, its DHCP leases beside it).
/// </summary>
public sealed partial record NetworkDefinition
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public string Name { get; init; } = string.Empty;

    /// <summary>The IPv4 subnet in CIDR form (for example 10.100.0.0/24): /16 to /29.</summary>
    public string Subnet { get; init; } = string.Empty;

    /// <summary>The DNS domain VMs are named under (VM.DOMAIN); null: NAME.lab.</summary>
    public string? Domain { get; init; }

    /// <summary>The DNS domain in effect.</summary>
    [JsonIgnore]
    public string EffectiveDomain => Domain ?? $"{Name}.lab";

    /// <summary>True when <paramref name="name"/> can name a network: 1-32 of a-z, 0-9, '-', starting with a letter, not ending with '-'.</summary>
    public static bool IsValidName(string name) => NamePattern().IsMatch(name ?? string.Empty) && Backup.Network.NetworkName.IsValid(name);

    /// <summary>The parsed <see cref="Subnet"/>; throws <see cref="ArgumentException"/> if it is not an IPv4 CIDR of /16../29.</summary>
    public IPNetwork ParsedSubnet()
    {
        if (!IPNetwork.TryParse(Subnet, out var network) || network.BaseAddress.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"network '{Name}': subnet '{Subnet}' is not an IPv4 network in CIDR form (for example 10.100.0.0/24)");
        }

        if (network.PrefixLength is < 16 or > 29)
        {
            throw new ArgumentException($"network '{Name}': subnet '{Subnet}' has a /{network.PrefixLength} prefix; /16 to /29 are supported");
        }

        return network;
    }

    /// <summary>Checks the definition; throws <see cref="ArgumentException"/> naming what is wrong.</summary>
    public void Validate()
    {
        if (!IsValidName(Name))
        {
            throw new ArgumentException($"'{Name}' is not a valid network name (1-32 characters of a-z, 0-9, '-', starting with a letter and not ending with '-')");
        }

        ParsedSubnet();
        if (Domain is not null && !DomainPattern().IsMatch(Domain))
        {
            throw new ArgumentException($"network '{Name}': '{Domain}' is not a DNS domain (labels of a-z, 0-9, '-' separated by dots)");
        }
    }

    /// <summary>
    /// The first /24 of 10.100.0.0 .. 10.199.0.0 (one per second octet) that overlaps none of <paramref name="taken"/>.
    /// </summary>
    public static string FreeSubnet(IEnumerable<IPNetwork> taken)
    {
        var used = taken.ToList();
        for (int second = 100; second < 200; second++)
        {
            var candidate = new IPNetwork(new IPAddress([10, (byte)second, 0, 0]), 24);
            if (!used.Any(n => n.Contains(candidate.BaseAddress) || candidate.Contains(n.BaseAddress)))
            {
                return candidate.ToString();
            }
        }

        throw new ArgumentException("every default subnet 10.100.0.0/24 .. 10.199.0.0/24 is taken; give --subnet");
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses a definition; <paramref name="source"/> names where it came from in the error.</summary>
    public static NetworkDefinition FromJson(string json, string source)
    {
        NetworkDefinition? definition;
        try
        {
            definition = JsonSerializer.Deserialize<NetworkDefinition>(json, Json);
        }
        catch (JsonException e)
        {
            throw new FormatException($"{source}: not a valid network definition: {e.Message}", e);
        }

        if (definition is null)
        {
            throw new FormatException($"{source}: empty network definition");
        }

        try
        {
            definition.Validate();
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"{source}: {e.Message}", e);
        }

        return definition;
    }

    [GeneratedRegex("^[a-z][a-z0-9-]{0,31}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^(?=.{1,200}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")]
    private static partial Regex DomainPattern();
}
