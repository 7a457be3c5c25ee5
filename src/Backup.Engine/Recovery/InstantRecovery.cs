using System.Diagnostics;
using Backup.Disks.BlockDevices;
using Backup.Disks.Overlays;
using Backup.Engine.Backups;
using Backup.Engine.Running;
using Backup.Repository;

namespace Backup.Engine.Recovery;

/// <summary>
/// Instant recovery: boots a VM straight from a restore point. Its disks are read lazily from the repository
/// (<see cref="RepositoryDisk"/>, through the chunk cache) under local overlays that take its writes, so nothing is
/// copied up front; the kernel comes from the point too. Cold: the kernel boots over the disks as they were at the cut.
/// Resume: the machine continues from the point's CPU, device and memory state.
/// </summary>
public static class InstantRecovery
{
    /// <summary>
    /// Starts the recovered VM. <paramref name="since"/> is the clock the RTO is measured on (default: from this call).
    /// Throws <see cref="ArgumentException"/> when the point cannot be recovered that way, naming why.
    /// </summary>
    public static async Task<RecoveredVm> StartAsync(BackupRepository repository, RecoveryRequest request, ConsoleTap console,
        Action<string>? log = null, Stopwatch? since = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(request);
        var clock = since ?? Stopwatch.StartNew();
        var reader = await repository.OpenPointAsync(request.PointId, request.DiskCache, request.CacheBytes, cancellationToken).ConfigureAwait(false);
        var configuration = await PointReading.ReadConfigurationAsync(repository, request.PointId, cancellationToken).ConfigureAwait(false)
            ?? throw new ArgumentException($"restore point {request.PointId} holds no VM configuration (it was not made by a VM backup); restore its disks with `backup restore` instead");
        if (request.Resume && !configuration.HasMemoryState)
        {
            throw new ArgumentException($"restore point {request.PointId} holds no memory state (a backup of a stopped VM); recover it without --resume");
        }

        string name = request.Name ?? configuration.Vm.Name;
        string directory = Path.GetFullPath(request.Directory);
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }

        Directory.CreateDirectory(directory);
        string kernel = Path.Combine(directory, "kernel");
        if (!request.Resume)
        {
            await ExtractKernelAsync(reader, kernel, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            File.Create(kernel).Dispose(); // replaced by the real image right after the guest starts (below)
        }

        string? state = null;
        if (request.Resume)
        {
            state = Path.Combine(directory, "resume" + Hypervisor.Snapshots.CheckpointChain.Extension);
            await using var output = new FileStream(state, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
            await reader.RestoreStreamAsync(PointStreams.MemoryState, output, cancellationToken).ConfigureAwait(false);
        }

        var overlays = new List<IBlockDevice>();
        try
        {
            for (int i = 0; i < configuration.Vm.Disks.Count; i++)
            {
                var source = new RepositoryDisk(reader, PointStreams.Disk(i));
                overlays.Add(OverlayDisk.Open(source, Path.Combine(directory, $"{PointStreams.Disk(i)}.overlay"), source.Identity));
            }
        }
        catch
        {
            overlays.ForEach(o => o.Dispose());
            throw;
        }

        var definition = configuration.Vm with
        {
            Name = name,
            Kernel = kernel,
            Autostart = false,
            Disks = configuration.Vm.Disks.Select((d, i) => d with { Path = Path.Combine(directory, $"{PointStreams.Disk(i)}.overlay") }).ToArray(),
        };
        var prepared = clock.Elapsed;
        var vm = ManagedVm.Run(definition, overlays, kernel, state is null ? null : [state], Path.Combine(directory, "state"), console, log, clock);
        if (request.Resume)
        {
            // A resumed machine runs from its memory; the kernel image is only needed if the guest reboots, so it is
            // fetched once the guest already runs, off the RTO path.
            try
            {
                await ExtractKernelAsync(reader, kernel, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                vm.Dispose();
                throw;
            }
        }

        return new RecoveredVm(vm, request.PointId, configuration, request.Resume, prepared);
    }

    private static async Task ExtractKernelAsync(Repository.Reading.RestorePointReader reader, string path, CancellationToken cancellationToken)
    {
        string partial = path + ".partial";
        await using (var output = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            await reader.RestoreStreamAsync(PointStreams.Kernel, output, cancellationToken).ConfigureAwait(false);
        }

        File.Move(partial, path, overwrite: true);
    }
}
