using System.Numerics;

namespace Backup.Hypervisor.Memory;

/// <summary>
/// The one record of which guest pages (4 KiB) are written: every write path into <see cref="GuestRam"/> (the CPU's
/// write-TLB misses, device DMA, host loads) reports here before the bytes change. It keeps
/// <list type="bullet">
/// <item>the pages written in the current dirty generation (checkpoints carry only those), swapped at each cut;</item>
/// <item>the pages ever written (a full checkpoint reads only those: the rest is still zero);</item>
/// <item>during a RAM capture, the pages still to be saved: a write to such a page first hands its old contents
/// to the capture (copy-on-write), so the capture sees RAM exactly as at the cut while the guest runs on.</item>
/// </list>
/// The CPU caches a page as writable only after reporting it, and every cut flushes those cached write
/// permissions, so each page's first write in a generation is seen here. The same hook invalidates translated code:
/// pages holding it are marked (<see cref="ProtectCode"/>), every hart drops its cached write permission for them,
/// and the first write to such a page tells every <see cref="ICodePageObserver"/> before the bytes change.
/// </summary>
public sealed class PageWriteTracker
{
    public const int PageShift = 12;
    public const int PageSize = 1 << PageShift;

    private readonly GuestRam _ram;
    private readonly Lock _captureLock = new();
    private ulong[] _dirty;
    private readonly ulong[] _touched;
    private ulong[]? _pending;
    private Action<ulong, byte[]>? _preserve;
    private ulong[]? _code;
    private ICodePageObserver[] _codeObservers = [];

    internal PageWriteTracker(GuestRam ram)
    {
        _ram = ram;
        PageCount = ram.Size >> PageShift;
        int words = (int)((PageCount + 63) / 64);
        _dirty = new ulong[words];
        _touched = new ulong[words];
    }

    public ulong PageCount { get; }

    /// <summary>Pages written since the last <see cref="SwapDirty"/>.</summary>
    public long DirtyPageCount => _dirty.Sum(w => (long)BitOperations.PopCount(w));

    /// <summary>Pages written since the VM started.</summary>
    public long TouchedPageCount => _touched.Sum(w => (long)BitOperations.PopCount(w));

    /// <summary>True while a capture still has pages to save.</summary>
    public bool CaptureActive => Volatile.Read(ref _pending) is not null;

    /// <summary>Reports that [pa, pa+length) of RAM is about to be written (pa already known to be in RAM).</summary>
    public void NotifyWrite(ulong pa, ulong length)
    {
        if (length == 0)
        {
            return;
        }

        ulong first = (pa - _ram.Base) >> PageShift;
        ulong last = (pa - _ram.Base + length - 1) >> PageShift;
        for (ulong page = first; page <= last && page < PageCount; page++)
        {
            int word = (int)(page >> 6);
            ulong bit = 1UL << (int)(page & 63);
            _dirty[word] |= bit;
            _touched[word] |= bit;
            if (_code is not null && (_code[word] & bit) != 0)
            {
                _code[word] &= ~bit;
                foreach (var observer in _codeObservers)
                {
                    observer.CodePageWritten(page);
                }
            }

            if (_pending is not null)
            {
                PreserveBeforeWrite(page);
            }
        }
    }

    /// <summary>Registers a translating tier to be told about code pages (harts of one machine share the RAM).</summary>
    internal void AddCodeObserver(ICodePageObserver observer)
    {
        _code ??= new ulong[_dirty.Length];
        _codeObservers = [.. _codeObservers, observer];
    }

    /// <summary>True when <paramref name="page"/> is marked as holding translated code.</summary>
    internal bool IsCode(ulong page) => _code is not null && page < PageCount && (_code[(int)(page >> 6)] & (1UL << (int)(page & 63))) != 0;

    /// <summary>
    /// Marks <paramref name="page"/> as holding translated code; every observer drops its cached write permission
    /// for it, so the next write to the page is reported (and invalidates the code) however it is made.
    /// </summary>
    internal void ProtectCode(ulong page)
    {
        if (_code is null || page >= PageCount || IsCode(page))
        {
            return;
        }

        _code[(int)(page >> 6)] |= 1UL << (int)(page & 63);
        foreach (var observer in _codeObservers)
        {
            observer.CodePageProtected(page);
        }
    }

    /// <summary>Starts a new dirty generation; returns the pages written in the one that ended.</summary>
    internal ulong[] SwapDirty()
    {
        ulong[] ended = _dirty;
        _dirty = new ulong[ended.Length];
        return ended;
    }

    /// <summary>A copy of the pages ever written.</summary>
    internal ulong[] SnapshotTouched() => (ulong[])_touched.Clone();

    /// <summary>
    /// Begins a capture of <paramref name="pages"/> (a bitmap, taken over). Until <see cref="EndCapture"/>, a write
    /// to a page not yet saved first calls <paramref name="preserve"/> with a copy of its old contents.
    /// </summary>
    internal void BeginCapture(ulong[] pages, Action<ulong, byte[]> preserve)
    {
        lock (_captureLock)
        {
            _preserve = preserve;
            Volatile.Write(ref _pending, pages);
        }
    }

    /// <summary>Claims a page for the background copier; false when it is not (or no longer) pending.</summary>
    internal bool TryCopyPending(ulong page, byte[] into)
    {
        lock (_captureLock)
        {
            if (_pending is null || !ClaimLocked(page))
            {
                return false;
            }

            _ram.CopyPage(page, into);
            return true;
        }
    }

    internal void EndCapture()
    {
        lock (_captureLock)
        {
            Volatile.Write(ref _pending, null);
            _preserve = null;
        }
    }

    private void PreserveBeforeWrite(ulong page)
    {
        lock (_captureLock)
        {
            if (_pending is null || !ClaimLocked(page))
            {
                return;
            }

            var copy = new byte[PageSize];
            _ram.CopyPage(page, copy);
            _preserve!(page, copy);
        }
    }

    private bool ClaimLocked(ulong page)
    {
        int word = (int)(page >> 6);
        ulong bit = 1UL << (int)(page & 63);
        if ((_pending![word] & bit) == 0)
        {
            return false;
        }

        _pending[word] &= ~bit;
        return true;
    }
}
