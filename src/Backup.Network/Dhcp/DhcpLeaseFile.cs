using System.Net;
using System.Text.Json;
using Backup.Network.Ethernet;

namespace Backup.Network.Dhcp;

/// <summary>The lease table's JSON file: written to a temporary file and renamed over the old one, so a crash leaves one or the other.</summary>
internal static class DhcpLeaseFile
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static List<DhcpLease> Load(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        List<Entry>? entries;
        try
        {
            entries = JsonSerializer.Deserialize<List<Entry>>(File.ReadAllText(path), Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"DHCP lease file {path} is not valid JSON: {e.Message}", e);
        }

        var leases = new List<DhcpLease>();
        foreach (var e in entries ?? [])
        {
            if (!MacAddress.TryParse(e.Mac, out var mac) || !IPAddress.TryParse(e.Address ?? "", out var address))
            {
                throw new InvalidDataException($"DHCP lease file {path} has an entry with a bad MAC '{e.Mac}' or address '{e.Address}'");
            }

            leases.Add(new DhcpLease(mac, address, e.Hostname, e.Expires));
        }

        return leases;
    }

    public static void Save(string path, IEnumerable<DhcpLease> leases)
    {
        var entries = leases.Select(l => new Entry(l.Mac.ToString(), l.Address.ToString(), l.Hostname, l.Expires)).ToList();
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null)
        {
            Directory.CreateDirectory(folder);
        }

        string temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(entries, Json));
        File.Move(temp, path, overwrite: true);
    }

    private sealed record Entry(string? Mac, string? Address, string? Hostname, DateTimeOffset Expires);
}
