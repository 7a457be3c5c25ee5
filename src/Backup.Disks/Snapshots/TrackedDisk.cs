using Backup.Disks.BlockDevices;
using Backup.Disks.ChangeTracking;
using Microsoft.Win32.SafeHandles;

namespace Backup.Disks.Snapshots;

/// <summary>
/// Wraps the live disk a VM writes through and adds what backups need: point-in-time <see cref="DiskSnapshot"/>s kept by
/// copy-before-write, and a changed-block bitmap since the last completed backup, persisted in a sidecar file so it
/// survives VM and appliance restarts. See docs/disk-state.md.
/// </summary>
/// <remarks>
/// Threading: <see cref="Read"/>, <see cref="Write"/> and <see cref="Flush"/> belong to one thread at a time (the VM's).
/// <see cref="CreateSnapshot"/>, snapshot reads, <see cref="DiskSnapshot.CompleteBackup"/> and snapshot disposal may
/// come from any thread. A snapshot is cut between two guest writes, never inside one.
/// </remarks>
public sealed class TrackedDisk : IBlockDevice
{
    private readonly IBlockDevice _inner;
    private readonly bool _leaveInnerOpen;
    private readonly object? _innerLock; // null when the inner device tolerates concurrent positional access
    private readonly object _gate = new(); // guest writes, cuts, completions, releases, close
    private readonly object _sidecarLock = new();
    private readonly SafeFileHandle _sidecar;
    private readonly string? _imagePath;
    private readonly int _shift;
    private readonly long _blockCount;
    private readonly byte[] _copyBuffer;
    private readonly List<ChangeSegment> _pending = [];
    private BlockBitmap _live;
    private volatile DiskSnapshot[] _snapshots = [];
    private volatile ChangeTrackingState _state;
    private long _issuedGeneration;
    private long _completedGeneration;
    private long _sidecarSequence;
    private long _sidecarWritten;
    private bool _closed;

    private TrackedDisk(IBlockDevice inner, TrackedDiskOptions options, string sidecarPath, string sideStoreDirectory,
        string? imagePath, SafeFileHandle sidecar, Opening opening)
    {
        _inner = inner;
        _leaveInnerOpen = options.LeaveInnerOpen;
        _innerLock = options.InnerSupportsConcurrentAccess ?? inner is RawFileDisk ? null : new object();
        _sidecar = sidecar;
        _imagePath = imagePath;
        Granularity = options.Granularity;
        _shift = int.Log2(Granularity);
        _blockCount = (inner.Length + Granularity - 1) / Granularity;
        _copyBuffer = new byte[Granularity];
        SidecarPath = sidecarPath;
        SideStoreDirectory = sideStoreDirectory;
        _state = opening.State;
        _live = opening.Bits ?? new BlockBitmap(_blockCount);
        TrackingId = opening.TrackingId;
        _issuedGeneration = opening.IssuedGeneration;
        _completedGeneration = opening.CompletedGeneration;
    }

    /// <inheritdoc />
    public long Length => _inner.Length;

    /// <inheritdoc />
    public bool IsReadOnly => _inner.IsReadOnly;

    /// <summary>Bytes per tracked block (bitmap resolution and copy-before-write unit).</summary>
    public int Granularity { get; }

    /// <summary>The sidecar file holding the changed-block bitmap.</summary>
    public string SidecarPath { get; }

    /// <summary>Where snapshots keep their copy-before-write side stores.</summary>
    public string SideStoreDirectory { get; }

    /// <summary>Identifies this disk's unbroken change-tracking history; it changes whenever tracking had to be distrusted.</summary>
    public Guid TrackingId { get; private set; }

    /// <summary>Whether the changed-block bitmap can be trusted, and why (or why not).</summary>
    public ChangeTrackingState TrackingState => _state;

    /// <summary>The generation of the last completed backup (0: none since tracking began).</summary>
    public long LastCompletedGeneration
    {
        get { lock (_gate) { return _completedGeneration; } }
    }

    /// <summary>Snapshots currently alive (not disposed, not invalidated).</summary>
    public int ActiveSnapshotCount => _snapshots.Length;

    /// <summary>Blocks written since the last completed backup (meaningful only while <see cref="TrackingState"/> is trusted).</summary>
    public long PendingChangedBlockCount
    {
        get
        {
            lock (_gate)
            {
                return UnionOfPending().CountSet();
            }
        }
    }

    /// <summary>
    /// Wraps <paramref name="inner"/>. Reads the sidecar, decides whether its bitmap can be trusted (see
    /// <see cref="TrackingState"/>), then durably marks the sidecar "in use" before returning, so no guest write can
    /// happen before an unclean stop would be detectable. Removes side stores left behind by a previous crash.
    /// On failure <paramref name="inner"/> is left open.
    /// </summary>
    /// <exception cref="ArgumentException">Bad granularity, or no sidecar path and no image path to derive it from.</exception>
    /// <exception cref="IOException">The sidecar could not be read or written.</exception>
    public static TrackedDisk Open(IBlockDevice inner, TrackedDiskOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        options ??= new TrackedDiskOptions();
        int g = options.Granularity;
        if (g < TrackedDiskOptions.MinGranularity || g > TrackedDiskOptions.MaxGranularity || !int.IsPow2(g))
        {
            throw new ArgumentException(
                $"granularity {g} must be a power of two between {TrackedDiskOptions.MinGranularity} and {TrackedDiskOptions.MaxGranularity} bytes",
                nameof(options));
        }

        string? imagePath = options.ImagePath ?? (inner as RawFileDisk)?.Path;
        string sidecarPath = Path.GetFullPath(options.SidecarPath ?? (imagePath is null
            ? throw new ArgumentException("the disk is not a file: give TrackedDiskOptions.SidecarPath", nameof(options))
            : imagePath + ".cbt"));
        string sideDir = Path.GetFullPath(options.SideStoreDirectory ?? Path.GetDirectoryName(sidecarPath)!);
        Directory.CreateDirectory(sideDir);
        RemoveStaleSideStores(sideDir, sidecarPath);

        bool existed = File.Exists(sidecarPath);
        SafeFileHandle handle = File.OpenHandle(sidecarPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            Opening opening = Judge(existed ? ReadAll(handle) : null, inner, g, sidecarPath, imagePath);
            var disk = new TrackedDisk(inner, options, sidecarPath, sideDir, imagePath, handle, opening);
            // An existing sidecar must say "in use" durably before the guest writes: a crash would otherwise leave its old,
            // clean state on disk, trusted though blocks changed after it. A new sidecar need not be flushed here: after a
            // crash it is absent or unreadable, and either way the next backup reads the whole disk. Skipping that fsync
            // keeps it off an instant recovery's path to the first guest instruction (its overlays are always new).
            disk.WriteSidecarNow(inUse: true, flush: existed);
            return disk;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Reads the live disk (VM thread).</summary>
    public void Read(long offset, Span<byte> buffer)
    {
        CheckRange(offset, buffer.Length);
        ObjectDisposedException.ThrowIf(_closed, this);
        ReadInner(offset, buffer);
    }

    /// <summary>
    /// Writes the live disk (VM thread). First preserves, for every live snapshot, the cut-time content of each touched block
    /// that snapshot has not preserved yet; then marks the blocks changed; then writes.
    /// </summary>
    public void Write(long offset, ReadOnlySpan<byte> buffer)
    {
        if (IsReadOnly)
        {
            throw new InvalidOperationException("the disk is read-only");
        }

        CheckRange(offset, buffer.Length);
        if (buffer.IsEmpty)
        {
            return;
        }

        long first = offset >> _shift;
        long last = (offset + buffer.Length - 1) >> _shift;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            DiskSnapshot[] snapshots = _snapshots;
            if (snapshots.Length > 0)
            {
                PreserveBlocks(first, last, snapshots);
                Interlocked.MemoryBarrier(); // publish preserved copies before the disk changes
            }

            _live.SetRange(first, last);
            WriteInner(offset, buffer);
        }
    }

    /// <summary>Passes through to the wrapped device.</summary>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        if (_innerLock is null)
        {
            _inner.Flush();
        }
        else
        {
            lock (_innerLock)
            {
                _inner.Flush();
            }
        }
    }

    /// <summary>
    /// Cuts a point-in-time snapshot. Copies no data: O(size of the bitmap). Call it on the VM thread at the checkpoint cut
    /// (from another thread it falls between two guest writes). Its <see cref="DiskSnapshot.ChangedBlocks"/> holds every block
    /// written since the last completed backup up to now (all blocks, with the reason, while tracking is untrusted);
    /// the live bitmap restarts empty.
    /// </summary>
    public DiskSnapshot CreateSnapshot()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            long generation = _issuedGeneration + 1;
            string sidePath = Path.Combine(SideStoreDirectory,
                $"{Path.GetFileName(SidecarPath)}.snap-{generation}-{Guid.NewGuid():N}.cbw");
            SafeFileHandle side = File.OpenHandle(sidePath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);

            var cutBits = _live;
            _live = new BlockBitmap(_blockCount);
            _issuedGeneration = generation;
            ChangeTrackingState state = _state;
            BlockBitmap? union = null;
            if (state.Trusted)
            {
                union = UnionOfPending();
                union.UnionWith(cutBits);
            }

            var map = new ChangedBlockMap(Length, Granularity, TrackingId, _completedGeneration, generation, union,
                state.Trusted ? null : state.Reason);
            var snapshot = new DiskSnapshot(this, generation, map, side, sidePath);
            _pending.Add(new ChangeSegment(generation, cutBits, snapshot));
            _snapshots = [.. _snapshots, snapshot];
            return snapshot;
        }
    }

    /// <summary>
    /// Closes cleanly: invalidates live snapshots, flushes the disk, writes the bitmap (every change not covered by a completed
    /// backup) with the image's size and modification time, and marks the sidecar clean. If the sidecar cannot be written it
    /// stays marked "in use", so the next open distrusts it (the safe outcome).
    /// </summary>
    public void Dispose()
    {
        byte[] file;
        long sequence;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            foreach (DiskSnapshot s in _snapshots)
            {
                s.CloseBecauseOwnerClosed();
            }

            _snapshots = [];
            _closed = true;
            file = Array.Empty<byte>();
            sequence = 0;
            try
            {
                if (!_inner.IsReadOnly)
                {
                    _inner.Flush();
                }

                (file, sequence) = EncodeSidecar(inUse: false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The sidecar keeps saying "in use": the next open will distrust the bitmap.
            }
        }

        try
        {
            if (sequence != 0)
            {
                PersistSidecar(file, sequence);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // As above: left "in use", which is safe.
        }
        finally
        {
            _sidecar.Dispose();
            if (!_leaveInnerOpen)
            {
                _inner.Dispose();
            }
        }
    }

    /// <summary>Snapshot reader path: the live disk's bytes (any thread).</summary>
    internal void ReadInnerForSnapshot(long offset, Span<byte> buffer) => ReadInner(offset, buffer);

    /// <summary>See <see cref="DiskSnapshot.CompleteBackup"/>.</summary>
    internal void CompleteBackup(DiskSnapshot snapshot)
    {
        byte[] file;
        long sequence;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            int index = _pending.FindIndex(s => ReferenceEquals(s.Owner, snapshot));
            if (index < 0)
            {
                throw new InvalidOperationException(
                    $"snapshot {snapshot.Generation} is older than the last completed backup (generation {_completedGeneration})");
            }

            // Everything written up to this cut is now in a backup, including the segments of older snapshots.
            _pending.RemoveRange(0, index + 1);
            _completedGeneration = snapshot.Generation;
            _state = ChangeTrackingState.TrustedState;
            (file, sequence) = EncodeSidecar(inUse: true);
        }

        // In memory the changes are backed up whatever happens next; persisting here keeps the generations durable.
        // The sidecar stays "in use", so a crash still means one full backup.
        PersistSidecar(file, sequence);
    }

    /// <summary>A snapshot is going away: stop preserving for it; if its backup did not complete, keep its changes pending.</summary>
    internal void Release(DiskSnapshot snapshot)
    {
        lock (_gate)
        {
            _snapshots = Array.FindAll(_snapshots, s => !ReferenceEquals(s, snapshot));
            if (_closed)
            {
                return;
            }

            int index = _pending.FindIndex(s => ReferenceEquals(s.Owner, snapshot));
            if (index < 0)
            {
                return; // its backup (or a later one) completed: nothing pending
            }

            // Merge into the next cut's segment, or the live bitmap, so the next snapshot still reports these blocks.
            BlockBitmap bits = _pending[index].Bits;
            (index + 1 < _pending.Count ? _pending[index + 1].Bits : _live).UnionWith(bits);
            _pending.RemoveAt(index);
        }
    }

    private void PreserveBlocks(long first, long last, DiskSnapshot[] snapshots)
    {
        bool dropped = false;
        for (long block = first; block <= last; block++)
        {
            bool needed = false;
            foreach (DiskSnapshot s in snapshots)
            {
                needed |= s.NeedsPreservation(block);
            }

            if (!needed)
            {
                continue;
            }

            long start = block << _shift;
            Span<byte> content = _copyBuffer.AsSpan(0, (int)Math.Min(Granularity, Length - start));
            try
            {
                ReadInner(start, content);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                foreach (DiskSnapshot s in snapshots)
                {
                    if (s.NeedsPreservation(block))
                    {
                        s.Invalidate($"block {block} could not be read for copy-before-write: {e.Message}");
                        dropped = true;
                    }
                }

                continue;
            }

            foreach (DiskSnapshot s in snapshots)
            {
                if (s.NeedsPreservation(block) && !s.Preserve(block, content))
                {
                    dropped = true;
                }
            }
        }

        if (dropped)
        {
            _snapshots = Array.FindAll(_snapshots, s => s.InvalidReason is null);
        }
    }

    private BlockBitmap UnionOfPending()
    {
        var union = _live.Clone();
        foreach (ChangeSegment s in _pending)
        {
            union.UnionWith(s.Bits);
        }

        return union;
    }

    /// <summary>Under the gate: the sidecar's next contents and their sequence number.</summary>
    private (byte[] File, long Sequence) EncodeSidecar(bool inUse)
    {
        long imageLength = -1, imageMtime = -1;
        if (!inUse && _imagePath is not null)
        {
            var info = new FileInfo(_imagePath);
            if (info.Exists)
            {
                imageLength = info.Length;
                imageMtime = info.LastWriteTimeUtc.Ticks;
            }
        }

        var contents = new SidecarContents(inUse, Granularity, Length, TrackingId, _issuedGeneration, _completedGeneration,
            imageLength, imageMtime, _state, UnionOfPending());
        return (SidecarFormat.Encode(contents), ++_sidecarSequence);
    }

    private void WriteSidecarNow(bool inUse, bool flush = true)
    {
        byte[] file;
        long sequence;
        lock (_gate)
        {
            (file, sequence) = EncodeSidecar(inUse);
        }

        PersistSidecar(file, sequence, flush);
    }

    /// <summary>Rewrites the sidecar in place and fsyncs it (unless <paramref name="flush"/> is false); a write older than one already on disk is skipped.</summary>
    private void PersistSidecar(byte[] file, long sequence, bool flush = true)
    {
        lock (_sidecarLock)
        {
            if (sequence <= _sidecarWritten)
            {
                return;
            }

            RandomAccess.SetLength(_sidecar, file.Length);
            RandomAccess.Write(_sidecar, file, 0);
            if (flush)
            {
                RandomAccess.FlushToDisk(_sidecar);
            }

            _sidecarWritten = sequence;
        }
    }

    private void ReadInner(long offset, Span<byte> buffer)
    {
        if (_innerLock is null)
        {
            _inner.Read(offset, buffer);
            return;
        }

        lock (_innerLock)
        {
            _inner.Read(offset, buffer);
        }
    }

    private void WriteInner(long offset, ReadOnlySpan<byte> buffer)
    {
        if (_innerLock is null)
        {
            _inner.Write(offset, buffer);
            return;
        }

        lock (_innerLock)
        {
            _inner.Write(offset, buffer);
        }
    }

    private void CheckRange(long offset, int count)
    {
        if (offset < 0 || count < 0 || offset > Length - count)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"request [{offset}, +{count}) is outside the {Length}-byte disk");
        }
    }

    private static byte[] ReadAll(SafeFileHandle handle)
    {
        long length = RandomAccess.GetLength(handle);
        if (length > Array.MaxLength)
        {
            throw new IOException($"change-tracking sidecar of {length} bytes is implausibly large");
        }

        var data = new byte[length];
        int done = 0;
        while (done < data.Length)
        {
            int n = RandomAccess.Read(handle, data.AsSpan(done), done);
            if (n == 0)
            {
                return data[..done];
            }

            done += n;
        }

        return data;
    }

    private static void RemoveStaleSideStores(string directory, string sidecarPath)
    {
        foreach (string stale in Directory.EnumerateFiles(directory, $"{Path.GetFileName(sidecarPath)}.snap-*.cbw"))
        {
            try
            {
                File.Delete(stale);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Still in use by someone else or not ours to delete: leave it.
            }
        }
    }

    /// <summary>Decides, from the sidecar's bytes (null: no sidecar), what the tracker starts from.</summary>
    private static Opening Judge(byte[]? file, IBlockDevice inner, int granularity, string sidecarPath, string? imagePath)
    {
        long blockCount = (inner.Length + granularity - 1) / granularity;
        Opening Distrust(DistrustCause cause, string reason, SidecarContents? old) =>
            new(ChangeTrackingState.Untrusted(cause, reason), null, Guid.NewGuid(),
                old?.LastIssuedGeneration ?? 0, old?.LastCompletedGeneration ?? 0);

        string where = $"change-tracking sidecar '{sidecarPath}'";
        if (file is null)
        {
            return Distrust(DistrustCause.SidecarMissing,
                $"there is no {where}: change tracking starts now (first use, or the sidecar was deleted), so every block is read", null);
        }

        SidecarContents? c = SidecarFormat.TryDecode(file, out DistrustCause decodeCause, out string problem);
        if (c is null)
        {
            return Distrust(decodeCause, $"the {where} cannot be used: {problem}", null);
        }

        if (c.InUse)
        {
            return Distrust(DistrustCause.UncleanStop,
                $"the {where} was still marked in use: the appliance or VM stopped without closing the disk cleanly, so writes may be missing from the bitmap", c);
        }

        if (c.Granularity != granularity)
        {
            return Distrust(DistrustCause.GranularityChanged,
                $"the {where} tracks {c.Granularity}-byte blocks but {granularity}-byte blocks are configured", c);
        }

        if (c.DiskLength != inner.Length)
        {
            return Distrust(DistrustCause.DiskSizeChanged,
                $"the disk is {inner.Length} bytes but the {where} was kept for {c.DiskLength} bytes", c);
        }

        if (imagePath is not null)
        {
            var info = new FileInfo(imagePath);
            if (c.ImageLength < 0 || c.ImageMtimeTicks < 0)
            {
                return Distrust(DistrustCause.ImageModified,
                    $"the {where} did not record the image file '{imagePath}' at its last close, so changes made behind its back cannot be ruled out", c);
            }

            if (!info.Exists || info.Length != c.ImageLength || info.LastWriteTimeUtc.Ticks != c.ImageMtimeTicks)
            {
                string now = info.Exists ? $"{info.Length} bytes, modified {info.LastWriteTimeUtc:O}" : "missing";
                return Distrust(DistrustCause.ImageModified,
                    $"the image file '{imagePath}' changed after the disk was last closed cleanly (recorded {c.ImageLength} bytes, modified {new DateTime(c.ImageMtimeTicks, DateTimeKind.Utc):O}; now {now})", c);
            }
        }

        if (!c.State.Trusted)
        {
            // Distrust survives clean closes until a backup completes; the history id stays the one chosen when it began.
            return new Opening(c.State, null, c.TrackingId, c.LastIssuedGeneration, c.LastCompletedGeneration);
        }

        return c.Bits.BlockCount == blockCount
            ? new Opening(ChangeTrackingState.TrustedState, c.Bits, c.TrackingId, c.LastIssuedGeneration, c.LastCompletedGeneration)
            : Distrust(DistrustCause.SidecarCorrupt, $"the {where} has a bitmap of the wrong size", c);
    }

    private sealed record Opening(ChangeTrackingState State, BlockBitmap? Bits, Guid TrackingId, long IssuedGeneration, long CompletedGeneration);
}
