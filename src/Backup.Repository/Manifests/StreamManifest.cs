namespace Backup.Repository.Manifests;

/// <summary>A stream of a restore point (configuration, memory, device state) as content-defined chunks.</summary>
public sealed record StreamManifest
{
    public string Name { get; init; } = string.Empty;

    public long Length { get; init; }

    public IReadOnlyList<ChunkReference> Chunks { get; init; } = [];
}
