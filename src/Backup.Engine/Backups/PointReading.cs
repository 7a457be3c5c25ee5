using Backup.Repository;
using Backup.Repository.Reading;

namespace Backup.Engine.Backups;

/// <summary>Reads what the engine stored in a restore point.</summary>
public static class PointReading
{
    /// <summary>
    /// The engine's configuration of restore point <paramref name="pointId"/>, or null when the point was not made
    /// by the engine (for example `backup repo put`). A damaged configuration is a <see cref="FormatException"/> naming the point.
    /// </summary>
    public static async Task<PointConfiguration?> ReadConfigurationAsync(BackupRepository repository, string pointId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repository);
        var manifest = await repository.ReadManifestAsync(pointId, cancellationToken).ConfigureAwait(false);
        if (manifest.Configuration is null)
        {
            return null;
        }

        var reader = await repository.OpenPointAsync(pointId, 4L << 20, cancellationToken).ConfigureAwait(false);
        return await ReadConfigurationAsync(reader, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>As above, from a point already open for reading (no second read of its manifest and chunk maps).</summary>
    public static async Task<PointConfiguration?> ReadConfigurationAsync(RestorePointReader reader, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        if (reader.Manifest.Configuration is null)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        await reader.RestoreStreamAsync("configuration", buffer, cancellationToken).ConfigureAwait(false);
        return PointConfiguration.FromBytes(buffer.ToArray(), reader.Manifest.Id);
    }
}
