using System.Collections.Concurrent;
using System.Diagnostics;
using System.Numerics;
using Backup.Disks.Snapshots;
using Backup.Hypervisor.Memory;
using Backup.Hypervisor.Snapshots;

namespace Backup.Hypervisor.Machine;

public sealed partial class VirtualMachine
{
    private readonly ConcurrentQueue<(FileStream File, string Path, bool Incremental, TaskCompletionSource<VmCheckpoint> Done)> _checkpointRequests = new();
    private Guid _lastCheckpointId;

    /// <summary>
    /// Takes a crash-consistent checkpoint into <paramref name="path"/> (a new file): every hart stopped at an
    /// instruction boundary (virtio requests complete synchronously, so none is in flight), CPU and device state
    /// captured, RAM captured copy-on-write in the background while the VM runs on. Incremental checkpoints carry
    /// only the pages written since the previous checkpoint of this VM (the first one is full). Disks that are
    /// <see cref="TrackedDisk"/>s are snapshotted at the same cut (copy-before-write, with their changed blocks).
    /// Callable from any thread; returns once the cut is taken.
    /// </summary>
    /// <exception cref="InvalidOperationException">The guest has powered off, rebooted or stopped on an error: a
    /// cut of that machine would resume into a guest that is already gone.</exception>
    public VmCheckpoint Checkpoint(string path, bool incremental = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ThrowIfEnded();

        // Opening (creating) the file needs no pause: it happens here, on the caller's thread, while the guest runs.
        // The stream allocates its buffer on the first write, which is inside the cut: 64 KiB stays below the large
        // object heap, whose fresh 1 MiB blocks cost the pause milliseconds of first-touch page faults (every third
        // cut took 1-4 ms with a 1 MiB buffer; docs/performance.md).
        var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 << 10);
        if (Volatile.Read(ref _runningThread) == 0 || Volatile.Read(ref _runningThread) == Environment.CurrentManagedThreadId)
        {
            return TakeCheckpoint(file, path, incremental, Stopwatch.GetTimestamp());
        }

        var done = new TaskCompletionSource<VmCheckpoint>(TaskCreationOptions.RunContinuationsAsynchronously);
        _checkpointRequests.Enqueue((file, path, incremental, done));
        _wake.Set();
        if (Volatile.Read(ref _runningThread) == 0)
        {
            ServiceCheckpointRequests(); // the VM thread left its loop (and its last look at the queue) meanwhile
        }

        return done.Task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Application-consistent checkpoint: asks the guest agent to freeze the data file system, takes the cut, and
    /// thaws right after. A VM with the QEMU guest agent (<see cref="VmConfiguration.QemuGuestAgent"/>) uses it
    /// (guest-sync-delimited, guest-fsfreeze-freeze, the cut, guest-fsfreeze-thaw); otherwise the agent on the second
    /// UART is used. If the VM has no agent channel, or the agent does not answer (or refuses) within
    /// <paramref name="agentTimeout"/>, the cut is taken crash-consistent and <see cref="VmCheckpoint.ConsistencyNote"/>
    /// says why. A freeze that timed out may still be carried out by the agent later, so a thaw is then sent after the cut
    /// (the agent answers in order) rather than leaving the guest's file system frozen. Must not be called on the VM's own
    /// thread (the agent needs the VM running to answer).
    /// </summary>
    public async Task<VmCheckpoint> CheckpointApplicationConsistentAsync(string path, bool incremental, TimeSpan agentTimeout, CancellationToken cancellationToken = default)
    {
        if (QemuAgent is not null)
        {
            return await CheckpointThroughQemuAgentAsync(QemuAgent, path, incremental, agentTimeout, cancellationToken).ConfigureAwait(false);
        }

        if (Agent is null)
        {
            var plain = Checkpoint(path, incremental);
            plain.ConsistencyNote = "the VM has no guest-agent channel (neither the QEMU guest agent nor the agent UART); the checkpoint is crash-consistent";
            return plain;
        }

        string? note = null;
        bool frozen = false;
        bool lateFreeze = false; // the freeze was sent but not answered in time: the agent may still carry it out
        try
        {
            await Agent.FreezeAsync(agentTimeout, cancellationToken).ConfigureAwait(false);
            frozen = true;
        }
        catch (Agent.GuestAgentException e)
        {
            lateFreeze = e.TimedOut;
            note = $"the guest agent could not freeze the file system ({e.Message}); the checkpoint is crash-consistent"
                + (lateFreeze ? "; a thaw was sent after the cut in case the freeze still completes" : string.Empty);
        }

        VmCheckpoint cut;
        try
        {
            cut = await Task.Run(() => Checkpoint(path, incremental), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (frozen)
            {
                try
                {
                    await Agent.ThawAsync(agentTimeout, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Agent.GuestAgentException e)
                {
                    _log?.Invoke($"thaw after checkpoint failed: {e.Message} (the guest's data file system may stay frozen)");
                }
            }
            else if (lateFreeze)
            {
                // The agent answers in order: this thaw runs after the late freeze, so the guest is not left frozen.
                try
                {
                    await Agent.ThawAsync(agentTimeout, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Agent.GuestAgentException e)
                {
                    _log?.Invoke($"thaw after an unanswered freeze: {e.Message} (expected when the freeze never happened)");
                }
            }
        }

        cut.Consistency = frozen ? CheckpointConsistency.ApplicationConsistent : CheckpointConsistency.CrashConsistent;
        cut.ConsistencyNote = note;
        return cut;
    }

    /// <summary>
    /// Rebuilds a VM from a checkpoint chain: a full checkpoint followed by its incrementals in order. Every file's
    /// checksum, format version and place in the chain is verified and the machine's shape must match
    /// <paramref name="config"/>; the disks in <paramref name="config"/> must hold the contents of the cut.
    /// </summary>
    public static VirtualMachine Restore(VmConfiguration config, IReadOnlyList<string> chain, Action<byte> consoleOutput, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(chain);
        if (chain.Count == 0)
        {
            throw new ArgumentException("a checkpoint chain needs at least one (full) checkpoint");
        }

        return RestoreFrom(config, chain.Select(path => (path, (Func<Stream>)(() =>
            new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20)))).ToList(), consoleOutput, log);
    }

    /// <summary>
    /// As <see cref="Restore(VmConfiguration, IReadOnlyList{string}, Action{byte}, Action{string}?)"/> from one full
    /// checkpoint read from <paramref name="fullCheckpoint"/> as it arrives (for example straight out of a restore point,
    /// so the machine is rebuilt while the state is still being fetched). The stream is read to its end and disposed;
    /// <paramref name="source"/> names it in errors.
    /// </summary>
    public static VirtualMachine Restore(VmConfiguration config, Stream fullCheckpoint, string source, Action<byte> consoleOutput, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(fullCheckpoint);
        return RestoreFrom(config, [(source, () => fullCheckpoint)], consoleOutput, log);
    }

    private static VirtualMachine RestoreFrom(VmConfiguration config, IReadOnlyList<(string Name, Func<Stream> Open)> chain, Action<byte> consoleOutput, Action<string>? log)
    {
        var vm = new VirtualMachine(config, consoleOutput, log, loadImage: false);
        try
        {
            vm.ApplyChain(chain);
            return vm;
        }
        catch
        {
            vm.Dispose();
            throw;
        }
    }

    /// <summary>SHA-256 over every part's saved state and all of RAM: equal digests mean equal machines.</summary>
    internal byte[] DigestState()
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var part in _stateParts)
        {
            var section = new StateWriter();
            part.SaveState(section);
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(part.StateName));
            hash.AppendData(section.ToArray());
        }

        var page = new byte[VmStateFile.PageSize];
        for (ulong p = 0; p < _ram.Size / VmStateFile.PageSize; p++)
        {
            _ram.CopyPage(p, page);
            hash.AppendData(page);
        }

        return hash.GetHashAndReset();
    }

    private void ServiceCheckpointRequests()
    {
        while (_checkpointRequests.TryDequeue(out var request))
        {
            // The guest is paused from here (the VM thread has stopped running guest code to take this cut) until this
            // method returns and the harts run again: that whole span is the stun time.
            long paused = Stopwatch.GetTimestamp();
            try
            {
                request.Done.SetResult(TakeCheckpoint(request.File, request.Path, request.Incremental, paused));
            }
#pragma warning disable CA1031 // the failure goes to the caller of Checkpoint; the VM itself runs on
            catch (Exception e)
#pragma warning restore CA1031
            {
                request.Done.SetException(e);
            }
        }
    }

    private void ThrowIfEnded()
    {
        if (_terminalExit is { } exit)
        {
            throw new InvalidOperationException($"no checkpoint taken: the VM has ended ({exit.Message})");
        }
    }

    /// <summary>
    /// Takes the cut into <paramref name="stream"/> (already created at <paramref name="path"/>) with the guest paused
    /// since <paramref name="paused"/> (a <see cref="Stopwatch"/> timestamp); the stun time runs from then until the
    /// cut is complete and the guest may run again. On failure the file is closed and deleted: no partial state
    /// file is left to break a chain.
    /// </summary>
    private VmCheckpoint TakeCheckpoint(FileStream stream, string path, bool incremental, long paused)
    {
        try
        {
            ThrowIfEnded();
            return TakeCheckpointCore(stream, path, incremental, paused);
        }
        catch
        {
            try
            {
                stream.Dispose();
                File.Delete(path);
            }
            catch (IOException)
            {
                // The checkpoint's own failure is what the caller needs to hear about.
            }

            throw;
        }
    }

    private VmCheckpoint TakeCheckpointCore(FileStream stream, string path, bool incremental, long paused)
    {
        // What can fail (a disk's side store that cannot be created, a write error) comes first, before anything that
        // changes the machine's bookkeeping (the dirty generation, the RAM capture, the parent id): a failed checkpoint
        // leaves the next one correct.
        bool chained = incremental && _lastCheckpointId != Guid.Empty;
        var header = new VmStateHeader(Guid.NewGuid(), chained ? _lastCheckpointId : Guid.Empty, DateTimeOffset.UtcNow,
            _ram.Size, _harts.Length, _config.Disks.Count, Agent is not null);
        var disks = new DiskSnapshot?[_config.Disks.Count];
        VmStateFile.Writer writer;
        TimeSpan diskCut;
        try
        {
            long disksStarted = Stopwatch.GetTimestamp();
            for (int i = 0; i < disks.Length; i++)
            {
                disks[i] = _config.Disks[i] is TrackedDisk tracked ? tracked.CreateSnapshot() : null;
            }

            diskCut = Stopwatch.GetElapsedTime(disksStarted);

            writer = new VmStateFile.Writer(stream, header);
            foreach (var part in _stateParts)
            {
                var section = new StateWriter();
                part.SaveState(section);
                writer.WriteSection(part.StateName, part.StateVersion, section.ToArray());
            }
        }
        catch
        {
            foreach (var taken in disks)
            {
                taken?.Dispose();
            }

            throw;
        }

        // RAM: close the dirty generation, stop caching write permissions, and capture copy-on-write.
        ulong[] ended = _ram.Tracker.SwapDirty();
        ulong[] pages = chained ? ended : _ram.Tracker.SnapshotTouched();
        ulong[] toVisit = (ulong[])pages.Clone();
        foreach (var hart in _harts)
        {
            hart.FlushWriteTlb();
        }

        var preserved = new ConcurrentQueue<(ulong Page, byte[] Content)>();
        _ram.Tracker.BeginCapture(pages, (page, content) => preserved.Enqueue((page, content)));
        _lastCheckpointId = header.Id;
        var completion = Task.Run(() => CopyPages(writer, stream, toVisit, preserved));
        long count = toVisit.Sum(w => (long)BitOperations.PopCount(w));
        return new VmCheckpoint(header, path, Stopwatch.GetElapsedTime(paused), diskCut, count, completion, disks);
    }

    private long CopyPages(VmStateFile.Writer writer, FileStream stream, ulong[] pages, ConcurrentQueue<(ulong Page, byte[] Content)> preserved)
    {
        try
        {
            var buffer = new byte[VmStateFile.PageSize];
            for (int word = 0; word < pages.Length; word++)
            {
                ulong bits = pages[word];
                while (bits != 0)
                {
                    int bit = BitOperations.TrailingZeroCount(bits);
                    bits &= bits - 1;
                    ulong page = ((ulong)word << 6) + (ulong)bit;
                    if (_ram.Tracker.TryCopyPending(page, buffer))
                    {
                        writer.WritePage(page, buffer);
                    }

                    while (preserved.TryDequeue(out var early))
                    {
                        writer.WritePage(early.Page, early.Content);
                    }
                }
            }

            _ram.Tracker.EndCapture();
            while (preserved.TryDequeue(out var late))
            {
                writer.WritePage(late.Page, late.Content);
            }

            writer.Finish();
            stream.Flush(flushToDisk: true);
            return writer.PagesWritten;
        }
        finally
        {
            _ram.Tracker.EndCapture();
            writer.Dispose();
            stream.Dispose();
        }
    }

    private static readonly byte[] ZeroPage = new byte[VmStateFile.PageSize];

    private void ApplyChain(IReadOnlyList<(string Name, Func<Stream> Open)> links)
    {
        Dictionary<string, (int Version, byte[] Payload)> sections = new(StringComparer.Ordinal);
        Guid previous = Guid.Empty;
        using var loader = new RamLoader(_ram); // pages written through the kernel: no first-touch fault per page here
        var chain = links.Select(link => link.Name).ToList();
        for (int i = 0; i < chain.Count; i++)
        {
            using var stream = links[i].Open();
            using var reader = new VmStateFile.Reader(stream, chain[i]);
            var h = reader.Header;
            if (i == 0 && h.IsIncremental)
            {
                throw new VmStateFormatException($"state file '{chain[i]}' is incremental (to {h.ParentId}); a chain starts with a full checkpoint");
            }

            if (i > 0 && h.ParentId != previous)
            {
                throw new VmStateFormatException($"state file '{chain[i]}' follows checkpoint {h.ParentId}, not {previous} ('{chain[i - 1]}')");
            }

            if (h.RamSize != _ram.Size || h.HartCount != _harts.Length || h.DiskCount != _config.Disks.Count || h.AgentChannel != (Agent is not null))
            {
                throw new VmStateFormatException(
                    $"state file '{chain[i]}' was taken from a machine with {h.RamSize >> 20} MiB, {h.HartCount} CPUs, {h.DiskCount} disks, agent channel {h.AgentChannel}; " +
                    $"this one has {_ram.Size >> 20} MiB, {_harts.Length} CPUs, {_config.Disks.Count} disks, agent channel {Agent is not null}");
            }

            sections.Clear();
            while (reader.Next(out string? name, out int version, out byte[]? payload, out ulong page))
            {
                if (name is not null)
                {
                    sections[name] = (version, payload!);
                }
                else if (payload is not null)
                {
                    loader.Write(_ram.Base + (page * VmStateFile.PageSize), payload);
                }
                else if (i > 0)
                {
                    // A page zeroed since the previous checkpoint. In the full checkpoint a zero page needs no write:
                    // a restored machine's RAM starts zeroed (and untouched, so the host commits no memory for it).
                    loader.Write(_ram.Base + (page * VmStateFile.PageSize), ZeroPage);
                }
            }

            previous = h.Id;
        }

        foreach (var part in _stateParts)
        {
            if (!sections.Remove(part.StateName, out var section))
            {
                if (_optionalStateParts.Contains(part.StateName))
                {
                    continue; // a device newer than the checkpoint: its guest never saw it (see AttachPlatformDevices)
                }

                throw new VmStateFormatException($"state file '{chain[^1]}' has no state for '{part.StateName}'");
            }

            var reader = new StateReader(section.Payload, part.StateName);
            part.RestoreState(reader, section.Version);
        }

        if (sections.Count > 0)
        {
            throw new VmStateFormatException($"state file '{chain[^1]}' holds state for parts this machine does not have: {string.Join(", ", sections.Keys)}");
        }

        _ram.Tracker.SwapDirty();
        _lastCheckpointId = previous;
    }
}
