using System.Collections.Concurrent;
using Backup.Disks.BlockDevices;
using Backup.Disks.ChangeTracking;
using Microsoft.Win32.SafeHandles;

namespace Backup.Disks.Snapshots;

/// <summary>
/// A read-only view of a <see cref="TrackedDisk"/> frozen at the instant <see cref="TrackedDisk.CreateSnapshot"/> ran,
/// kept frozen by copy-before-write while the guest keeps writing. Readable from any thread, by several threads at once,
/// concurrently with guest writes. Carries the blocks changed since the last completed backup (<see cref="ChangedBlocks"/>).
/// </summary>
/// <remarks>
/// Call <see cref="CompleteBackup"/> once the backup made from this snapshot is safely stored, then <see cref="Dispose"/>.
/// Disposing without <see cref="CompleteBackup"/> keeps its changes pending, so the next backup includes them.
/// Do not dispose while another thread is still reading this snapshot.
/// </remarks>
public sealed class DiskSnapshot : IBlockDevice
{
    private readonly TrackedDisk _owner;
    private readonly SafeFileHandle _side;
    private readonly ConcurrentDictionary<long, long> _preserved = new(); // block -> offset in the side store
    private readonly int _shift;
    private long _sideLength; // appended only by the VM thread under the owner's gate
    private volatile string? _invalidReason;
    private int _disposed;

    internal DiskSnapshot(TrackedDisk owner, long generation, ChangedBlockMap changes, SafeFileHandle side, string sidePath)
    {
        _owner = owner;
        _side = side;
        _shift = int.Log2(changes.Granularity);
        Generation = generation;
        ChangedBlocks = changes;
        SideStorePath = sidePath;
        Length = owner.Length;
        CreatedUtc = DateTime.UtcNow;
    }

    /// <inheritdoc />
    public long Length { get; }

    /// <summary>Always true: a snapshot refuses writes.</summary>
    public bool IsReadOnly => true;

    /// <summary>This snapshot's place in the disk's sequence of cuts (1, 2, ...); see <see cref="ChangedBlockMap.Generation"/>.</summary>
    public long Generation { get; }

    /// <summary>When the snapshot was cut (UTC).</summary>
    public DateTime CreatedUtc { get; }

    /// <summary>Blocks changed since the last completed backup up to this snapshot's cut; every block when tracking was untrusted.</summary>
    public ChangedBlockMap ChangedBlocks { get; }

    /// <summary>The temporary file holding blocks preserved for this snapshot; deleted on dispose.</summary>
    public string SideStorePath { get; }

    /// <summary>Blocks preserved so far because the guest overwrote them after the cut.</summary>
    public long PreservedBlockCount => _preserved.Count;

    /// <summary>Bytes used in the side store.</summary>
    public long SideStoreBytes => Volatile.Read(ref _sideLength);

    /// <summary>True after <see cref="CompleteBackup"/>.</summary>
    public bool BackupCompleted { get; private set; }

    /// <summary>Null while the view is intact; otherwise why it can no longer be read (e.g. the side store could not be written).</summary>
    public string? InvalidReason => _invalidReason;

    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// Reads the disk as it was at the cut. Thread-safe. Throws <see cref="IOException"/> if the snapshot was invalidated and
    /// <see cref="ObjectDisposedException"/> once it (or its disk) is disposed.
    /// </summary>
    public void Read(long offset, Span<byte> buffer)
    {
        ThrowIfUnreadable();
        if (offset < 0 || offset > Length - buffer.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"request [{offset}, +{buffer.Length}) is outside the {Length}-byte snapshot");
        }

        int done = 0;
        while (done < buffer.Length)
        {
            long pos = offset + done;
            long block = pos >> _shift;
            long blockEnd = (block + 1) << _shift;
            int n = (int)Math.Min(buffer.Length - done, blockEnd - pos);
            ReadPiece(block, pos, buffer.Slice(done, n));
            done += n;
        }
    }

    /// <summary>Always throws <see cref="InvalidOperationException"/>: snapshots are read-only.</summary>
    public void Write(long offset, ReadOnlySpan<byte> buffer) =>
        throw new InvalidOperationException($"snapshot {Generation} of the disk is read-only");

    /// <summary>Nothing to flush: the view is read-only.</summary>
    public void Flush()
    {
    }

    /// <summary>
    /// Records that a backup of this snapshot is safely stored: its <see cref="ChangedBlocks"/> are no longer pending, the
    /// disk's changed-block state is persisted, and tracking becomes trusted again if it was not. Idempotent.
    /// Throws <see cref="InvalidOperationException"/> when a later snapshot already completed a backup or this one was invalidated.
    /// </summary>
    public void CompleteBackup()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (_invalidReason is { } why)
        {
            throw new InvalidOperationException($"snapshot {Generation} was invalidated ({why}); its backup cannot be complete");
        }

        if (BackupCompleted)
        {
            return;
        }

        _owner.CompleteBackup(this);
        BackupCompleted = true;
    }

    /// <summary>Releases the preserved blocks (deletes the side store). Without <see cref="CompleteBackup"/> its changes stay pending.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _owner.Release(this);
        CloseSideStore();
    }

    /// <summary>Called by the owner (under its gate) when the whole disk closes.</summary>
    internal void CloseBecauseOwnerClosed()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            CloseSideStore();
        }
    }

    /// <summary>VM thread, under the gate: does this snapshot still need the cut-time content of <paramref name="block"/>?</summary>
    internal bool NeedsPreservation(long block) => _invalidReason is null && !_preserved.ContainsKey(block);

    /// <summary>
    /// VM thread, under the gate: appends the cut-time content of <paramref name="block"/> to the side store and publishes it.
    /// The data is written before the block appears in the map, so a reader that finds the block finds its bytes.
    /// On failure the snapshot is invalidated (never the guest write) and false is returned.
    /// </summary>
    internal bool Preserve(long block, ReadOnlySpan<byte> content)
    {
        long at = _sideLength;
        try
        {
            RandomAccess.Write(_side, content, at);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Invalidate($"the copy-before-write store '{SideStorePath}' could not be written: {e.Message}");
            return false;
        }

        _preserved[block] = at;
        Volatile.Write(ref _sideLength, at + content.Length);
        return true;
    }

    /// <summary>VM thread, under the gate, before the guest write proceeds: readers will refuse from now on.</summary>
    internal void Invalidate(string reason)
    {
        _invalidReason = reason;
        Interlocked.MemoryBarrier();
    }

    private void ReadPiece(long block, long pos, Span<byte> piece)
    {
        long inBlock = pos - (block << _shift);
        if (_preserved.TryGetValue(block, out long at))
        {
            ReadSide(at + inBlock, piece);
            return;
        }

        // Not preserved yet: the live disk still holds the cut-time bytes, unless the guest overwrites the block while we
        // read. The VM thread always publishes the preserved copy (or invalidates/removes us) before it writes the disk,
        // so if nothing was published by the time our read finished, the read saw only cut-time bytes.
        _owner.ReadInnerForSnapshot(pos, piece);
        Interlocked.MemoryBarrier();
        ThrowIfUnreadable();
        if (_preserved.TryGetValue(block, out at))
        {
            ReadSide(at + inBlock, piece); // a write raced us: the preserved copy is authoritative
        }
    }

    private void ReadSide(long at, Span<byte> piece)
    {
        int done = 0;
        while (done < piece.Length)
        {
            int n = RandomAccess.Read(_side, piece[done..], at + done);
            if (n == 0)
            {
                throw new IOException($"the copy-before-write store '{SideStorePath}' is shorter than expected");
            }

            done += n;
        }
    }

    private void ThrowIfUnreadable()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (_invalidReason is { } why)
        {
            throw new IOException($"snapshot {Generation} can no longer be read: {why}");
        }
    }

    private void CloseSideStore()
    {
        _side.Dispose();
        try
        {
            File.Delete(SideStorePath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left behind; TrackedDisk.Open removes stale side stores of its sidecar.
        }
    }
}
