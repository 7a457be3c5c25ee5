using System.Diagnostics;
using System.IO.Pipelines;
using Backup.Disks.BlockDevices;
using Backup.Disks.Overlays;
using Backup.Engine.Backups;
using Backup.Engine.Running;
using Backup.Repository;

namespace Backup.Engine.Recovery;

/// <summary>
/// Instant recovery: boots a VM straight from a restore point. Its disks are read lazily from the repository
/// (<see cref="RepositoryDisk"/>, through the chunk cache) under local overlays that take its writes, so nothing is
/// copied up front; the kernel (and initrd, when the VM has one) come from the point too. Cold: the kernel boots over the disks as they were at the cut.
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
        var configuration = await PointReading.ReadConfigurationAsync(reader, cancellationToken).ConfigureAwait(false)
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
        var bootFiles = configuration.Vm.BootFiles.ToDictionary(f => f.Stream, f => Path.Combine(directory, f.Stream), StringComparer.Ordinal);
        if (!request.Resume)
        {
            await ExtractBootFilesAsync(reader, bootFiles, cancellationToken).ConfigureAwait(false);
        }

        // Resume: the memory state streams out of the repository straight into the machine being rebuilt, so fetching
        // and applying it overlap instead of adding up.
        Pipe? state = null;
        Task? fetching = null;
        if (request.Resume)
        {
            var pipe = state = new Pipe(new PipeOptions(pauseWriterThreshold: 16 << 20, resumeWriterThreshold: 8 << 20));
            fetching = Task.Run(async () =>
            {
                try
                {
                    await reader.RestoreStreamAsync(PointStreams.MemoryState, pipe.Writer.AsStream(leaveOpen: true), cancellationToken).ConfigureAwait(false);
                    await pipe.Writer.CompleteAsync().ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    await pipe.Writer.CompleteAsync(e).ConfigureAwait(false);
                    throw;
                }
            }, cancellationToken);
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

        var definition = configuration.Vm.WithBootFiles(bootFiles) with
        {
            Name = name,
            Autostart = false,
            Forwards = [],
            Disks = configuration.Vm.Disks.Select((d, i) => d with { Path = Path.Combine(directory, $"{PointStreams.Disk(i)}.overlay") }).ToArray(),
        };
        var prepared = clock.Elapsed;
        ManagedVm vm;
        if (state is null)
        {
            vm = ManagedVm.Run(definition, overlays, kernel, null, Path.Combine(directory, "state"), console, log, clock, request.Networks);
        }
        else
        {
            try
            {
                vm = ManagedVm.Resume(definition, overlays, kernel, state.Reader.AsStream(), $"restore point {request.PointId}, stream {PointStreams.MemoryState}",
                    Path.Combine(directory, "state"), console, log, clock, request.Networks);
            }
            catch
            {
                await state.Reader.CompleteAsync().ConfigureAwait(false);
                Exception? fetchError = null;
                try
                {
                    await fetching!.ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    fetchError = e;
                }

                if (fetchError is not null and not OperationCanceledException)
                {
                    // The fetch's own error names the damaged repository object; the restore only saw the stream end.
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(fetchError).Throw();
                }

                throw;
            }

            await fetching!.ConfigureAwait(false);
        }

        if (request.Resume)
        {
            // A resumed machine runs from its memory; the kernel image (or firmware) is only needed if the guest
            // reboots, so it is fetched once the guest already runs, off the RTO path.
            try
            {
                await ExtractBootFilesAsync(reader, bootFiles, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                vm.Dispose();
                throw;
            }

            if (configuration.Consistency == "application")
            {
                await ThawResumedGuestAsync(vm, log, cancellationToken).ConfigureAwait(false);
            }
        }

        return new RecoveredVm(vm, request.PointId, configuration, request.Resume, prepared);
    }

    /// <summary>
    /// An application-consistent point's memory is the guest with its file systems frozen (the cut is taken between
    /// guest-fsfreeze-freeze and -thaw), so a VM resumed from it would stay frozen: writes would block forever. Through
    /// the QEMU guest agent the resumed guest is thawed at once (qemu-ga also runs its thaw hooks); a failure is logged,
    /// not fatal (the VM runs; an operator can still thaw it).
    /// </summary>
    private static async Task ThawResumedGuestAsync(ManagedVm vm, Action<string>? log, CancellationToken cancellationToken)
    {
        if (vm.Machine.QemuAgent is not { } agent)
        {
            return;
        }

        try
        {
            int thawed = await agent.ThawAsync(TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
            log?.Invoke($"resumed from an application-consistent point: qemu-ga thawed {thawed} file system(s)");
        }
        catch (Hypervisor.Agent.QemuGuestAgentException e)
        {
            log?.Invoke($"resumed from an application-consistent point, but the thaw failed: {e.Message} (the guest's file systems may stay frozen)");
        }
    }

    private static async Task ExtractBootFilesAsync(Repository.Reading.RestorePointReader reader, IReadOnlyDictionary<string, string> files, CancellationToken cancellationToken)
    {
        foreach (var (stream, path) in files)
        {
            string partial = path + ".partial";
            await using (var output = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                await reader.RestoreStreamAsync(stream, output, cancellationToken).ConfigureAwait(false);
            }

            File.Move(partial, path, overwrite: true);
        }
    }
}
