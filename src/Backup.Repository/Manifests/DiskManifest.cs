using System.Text.Json.Serialization;

namespace Backup.Repository.Manifests;

/// <summary>A disk image of a restore point: fixed aligned chunks, listed by chunk-map blobs (format §8).</summary>
public sealed record DiskManifest
{
    /// <summary>Chunk ids per chunk-map blob.</summary>
    public const int ChunksPerMap = 4096;

    public string Name { get; init; } = string.Empty;

    public long Length { get; init; }

    public int ChunkSize { get; init; }

    /// <summary>Hex ids of the chunk-map blobs; the all-zero id stands for a range of zero chunks.</summary>
    public IReadOnlyList<string> Maps { get; init; } = [];

    /// <summary>Changed chunks relative to the parent point.</summary>
    public ChangedBlockMap Changed { get; init; } = new();

    /// <summary>
    /// Opaque tag of the change-tracking state this disk was read at (given by the backup engine, for example
    /// "&lt;tracking id&gt;:&lt;generation&gt;"); null when none was given. Optional in the format (§8).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TrackingTag { get; init; }
}
