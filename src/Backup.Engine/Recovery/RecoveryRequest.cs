namespace Backup.Engine.Recovery;

/// <summary>What to recover and how.</summary>
public sealed record RecoveryRequest
{
    public required string PointId { get; init; }

    /// <summary>The recovered VM's name; default: the name of the VM the point was taken of.</summary>
    public string? Name { get; init; }

    /// <summary>Continue from the point's memory and device state instead of booting the kernel afresh.</summary>
    public bool Resume { get; init; }

    /// <summary>Folder for the recovered VM's overlays, kernel and state (emptied first: a recovery starts from the point).</summary>
    public required string Directory { get; init; }

    /// <summary>Bytes of decrypted chunks kept in memory for the lazily read disks.</summary>
    public long CacheBytes { get; init; } = 256L << 20;

    /// <summary>
    /// A persistent on-disk chunk cache behind the memory cache (chunks stay local across recoveries and restarts of
    /// the recovered VM), or null. The caller owns it and disposes it after the VM.
    /// </summary>
    public Repository.Reading.DiskChunkCache? DiskCache { get; init; }

    /// <summary>
    /// The networks the recovered VM's NICs join (needed when the point's VM had NICs). Callers give an isolated copy
    /// of the production networks (<see cref="Networks.NetworkFabric.Isolated"/>) so a recovered VM never meets the
    /// production VM it replaces or tests; its port forwards are not opened (the production VM may hold those ports).
    /// </summary>
    public Networks.NetworkFabric? Networks { get; init; }
}
