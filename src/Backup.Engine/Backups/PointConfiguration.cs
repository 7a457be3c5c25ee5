using System.Text.Json;
using System.Text.Json.Serialization;
using Backup.Engine.Vms;

namespace Backup.Engine.Backups;

/// <summary>
/// The configuration object of a restore point made by the engine: the VM's definition, how the cut was taken,
/// and each disk's change-tracking tag (tracking id and generation of the cut) so that the next backup knows
/// whether the disk's changed-block map is relative to this point.
/// </summary>
public sealed record PointConfiguration
{
    public const int CurrentVersion = 1;

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public int Version { get; init; } = CurrentVersion;

    public required VmDefinition Vm { get; init; }

    public required string Consistency { get; init; }

    public string? ConsistencyNote { get; init; }

    public double StunMilliseconds { get; init; }

    public bool HasMemoryState { get; init; }

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    /// <summary>Parses the configuration of restore point <paramref name="pointId"/>; a damaged one is named.</summary>
    public static PointConfiguration FromBytes(ReadOnlySpan<byte> bytes, string pointId)
    {
        try
        {
            var configuration = JsonSerializer.Deserialize<PointConfiguration>(bytes, Json)
                ?? throw new FormatException($"restore point {pointId}: its configuration is empty");
            if (configuration.Version > CurrentVersion)
            {
                throw new FormatException($"restore point {pointId}: configuration version {configuration.Version} is newer than this appliance understands ({CurrentVersion})");
            }

            return configuration;
        }
        catch (JsonException e)
        {
            throw new FormatException($"restore point {pointId}: its configuration is not a VM configuration this appliance wrote ({e.Message})", e);
        }
    }
}
