using Backup.Hypervisor.Mmu;

namespace Backup.Hypervisor.Cpu;

public sealed unsafe partial class Hart
{
    // Software TLB: sets x types x entries. Set 0 caches M-mode physical pages, set 1 S/U-mode physical pages
    // (bare), set 2 U-mode, set 3 S-mode, set 4 S-mode with SUM. Changing privilege or SUM switches sets instead of
    // flushing; M-mode and bare S/U have sets of their own because PMP may grant them different pages.
    private const int TlbSets = 5, PhysicalSets = 2, TlbTypes = 3, TlbSize = 1024, TlbMask = TlbSize - 1;
    private const ulong PteV = 1, PteR = 2, PteW = 4, PteX = 8, PteU = 16, PteA = 64, PteD = 128;
    private const ulong PpnMask = (1UL << 44) - 1;

    private readonly TlbEntry[] _tlb;
    private readonly TlbEntry* _tlbBase;
    // Read and write sets are read by translated code (Translation/Emit) at block entry.
    internal TlbEntry* _readTlb, _writeTlb;
    private TlbEntry* _fetchTlb;
    private PrivilegeMode _dataMode;

    // The page the run loop currently fetches from.
    private ulong _fetchTag = TlbEntry.InvalidTag;
    private long _fetchAddend;

    /// <summary>Drops every cached translation (satp write, SFENCE.VMA, SBI remote fence).</summary>
    public void FlushTlb() => FlushTlbAll(includeIdentity: false);

    private void FlushTlbAll(bool includeIdentity)
    {
        int first = includeIdentity ? 0 : PhysicalSets;
        var span = new Span<TlbEntry>(_tlbBase + (first * TlbTypes * TlbSize), (TlbSets - first) * TlbTypes * TlbSize);
        foreach (ref var e in span)
        {
            e.Tag = TlbEntry.InvalidTag;
        }

        _fetchTag = TlbEntry.InvalidTag;
        _translation?.FlushJumpCache();
    }

    /// <summary>
    /// Drops every cached write permission (all contexts), so the next write to each page is reported to the
    /// page-write tracker again: called at each checkpoint cut, when a new dirty generation begins.
    /// </summary>
    public void FlushWriteTlb()
    {
        for (int set = 0; set < TlbSets; set++)
        {
            var span = new Span<TlbEntry>(_tlbBase + (((set * TlbTypes) + (int)AccessType.Write) * TlbSize), TlbSize);
            foreach (ref var e in span)
            {
                e.Tag = TlbEntry.InvalidTag;
            }
        }
    }

    private void FlushTlbPage(ulong va)
    {
        ulong tag = va >> 12;
        for (int i = PhysicalSets * TlbTypes; i < TlbSets * TlbTypes; i++)
        {
            TlbEntry* e = _tlbBase + (i * TlbSize) + (int)(tag & TlbMask);
            if (e->Tag == tag)
            {
                e->Tag = TlbEntry.InvalidTag;
            }
        }

        _fetchTag = TlbEntry.InvalidTag;
        _translation?.FlushJumpCache();
    }

    /// <summary>Selects the TLB sets for the current privilege, MPRV/MPP, SUM and satp mode.</summary>
    private void UpdateMmuContext()
    {
        bool bare = (_satp >> 60) == 0;
        _dataMode = _mode == PrivilegeMode.Machine && (_mstatus & MstatusBits.MPRV) != 0
            ? (PrivilegeMode)((_mstatus >> MstatusBits.MppShift) & 3)
            : _mode;
        int dataSet = _dataMode == PrivilegeMode.Machine ? 0
            : bare ? 1
            : _dataMode == PrivilegeMode.User ? 2
            : (_mstatus & MstatusBits.SUM) != 0 ? 4 : 3;
        int fetchSet = _mode == PrivilegeMode.Machine ? 0 : bare ? 1 : _mode == PrivilegeMode.User ? 2 : 3;
        _readTlb = _tlbBase + (((dataSet * TlbTypes) + (int)AccessType.Read) * TlbSize);
        _writeTlb = _tlbBase + (((dataSet * TlbTypes) + (int)AccessType.Write) * TlbSize);
        _fetchTlb = _tlbBase + (((fetchSet * TlbTypes) + (int)AccessType.Fetch) * TlbSize);
        _fetchTag = TlbEntry.InvalidTag;
    }

    private bool PageFault(AccessType type, ulong va) => RaiseException(
        type switch { AccessType.Read => TrapCause.LoadPageFault, AccessType.Write => TrapCause.StorePageFault, _ => TrapCause.InstructionPageFault }, va);

    private bool AccessFault(AccessType type, ulong va) => RaiseException(
        type switch { AccessType.Read => TrapCause.LoadAccessFault, AccessType.Write => TrapCause.StoreAccessFault, _ => TrapCause.InstructionAccessFault }, va);

    /// <summary>Sv39 translation (privileged spec 4.3.2/4.4) with hardware A/D updates. False = trap recorded.</summary>
    private bool Translate(ulong va, AccessType type, PrivilegeMode mode, out ulong pa, bool updateAccessedDirty = true)
    {
        if (mode == PrivilegeMode.Machine || (_satp >> 60) == 0)
        {
            pa = va;
            return true;
        }

        pa = 0;
        if ((ulong)(((long)va << 25) >> 25) != va)
        {
            return PageFault(type, va); // not sign-extended from bit 38
        }

        ulong table = (_satp & PpnMask) << 12;
        for (int level = 2; level >= 0; level--)
        {
            ulong pteAddress = table + (((va >> (12 + (9 * level))) & 511) << 3);
            if (!_ram.Contains(pteAddress, 8) || !PmpPermitsTableAccess(pteAddress, AccessType.Read))
            {
                return AccessFault(type, va);
            }

            ulong* ptePointer = (ulong*)(_ram.Pointer + (pteAddress - _ram.Base));
            ulong pte = *ptePointer;
            if ((pte & PteV) == 0 || ((pte & PteR) == 0 && (pte & PteW) != 0) || (pte >> 54) != 0)
            {
                return PageFault(type, va);
            }

            ulong ppn = (pte >> 10) & PpnMask;
            if ((pte & (PteR | PteX)) == 0)
            {
                table = ppn << 12;
                continue;
            }

            if (!Permitted(pte, type, mode))
            {
                return PageFault(type, va);
            }

            if (level > 0 && (ppn & ((1UL << (9 * level)) - 1)) != 0)
            {
                return PageFault(type, va); // misaligned superpage
            }

            ulong updated = pte | PteA | (type == AccessType.Write ? PteD : 0);
            if (updated != pte && !PmpPermitsTableAccess(pteAddress, AccessType.Write))
            {
                return AccessFault(type, va); // the A/D update is an implicit store PMP refuses
            }

            if (updated != pte && updateAccessedDirty)
            {
                _ram.Tracker.NotifyWrite(pteAddress, 8);
                *ptePointer = updated;
            }

            pa = (ppn << 12) | (va & ((1UL << (12 + (9 * level))) - 1));
            return true;
        }

        return PageFault(type, va);
    }

    private bool Permitted(ulong pte, AccessType type, PrivilegeMode mode)
    {
        bool userPage = (pte & PteU) != 0;
        if (mode == PrivilegeMode.User)
        {
            if (!userPage)
            {
                return false;
            }
        }
        else if (userPage && (type == AccessType.Fetch || (_mstatus & MstatusBits.SUM) == 0))
        {
            return false;
        }

        return type switch
        {
            AccessType.Fetch => (pte & PteX) != 0,
            AccessType.Read => (pte & PteR) != 0 || ((_mstatus & MstatusBits.MXR) != 0 && (pte & PteX) != 0),
            _ => (pte & PteW) != 0,
        };
    }

    /// <summary>Host-address addend for a RAM page, caching it in <paramref name="tlb"/>; -1 page not in RAM.</summary>
    private bool TryCacheRamPage(TlbEntry* tlb, ulong va, ulong pa, out long addend)
    {
        ulong paPage = pa & ~0xFFFUL;
        if (!_ram.Contains(paPage, 4096))
        {
            addend = 0;
            return false;
        }

        addend = (long)(_ram.Pointer + (paPage - _ram.Base)) - (long)(va & ~0xFFFUL);
        TlbEntry* e = tlb + (int)((va >> 12) & TlbMask);
        e->Tag = va >> 12;
        e->Addend = addend;
        return true;
    }

    /// <summary>Load of 1/2/4/8 bytes (f3 = LOAD funct3 selects size and sign). False = trap recorded.</summary>
    private bool LoadSlow(ulong va, uint f3, out ulong value)
    {
        int size = 1 << (int)(f3 & 3);
        value = 0;
        ulong raw;
        if ((((va + (ulong)size - 1) ^ va) >> 12) != 0)
        {
            // Misaligned across a page boundary: byte by byte, each translated.
            raw = 0;
            for (int i = 0; i < size; i++)
            {
                if (!LoadSlow(va + (ulong)i, 4, out ulong b))
                {
                    return false;
                }

                raw |= b << (8 * i);
            }
        }
        else
        {
            if (!Translate(va, AccessType.Read, _dataMode, out ulong pa) || !PmpCheck(pa, size, AccessType.Read, _dataMode, va))
            {
                return false;
            }

            if (PmpCacheable(pa, AccessType.Read, _dataMode) && TryCacheRamPage(_readTlb, va, pa, out long addend))
            {
                byte* p = (byte*)(addend + (long)va);
                raw = size switch { 1 => *p, 2 => *(ushort*)p, 4 => *(uint*)p, _ => *(ulong*)p };
            }
            else if (((va & (ulong)(size - 1)) != 0 && !_ram.Contains(pa, (ulong)size)) || !_bus.Read(pa, size, out raw))
            {
                return AccessFault(AccessType.Read, va);
            }
        }

        value = f3 switch
        {
            0 => (ulong)(sbyte)raw,
            1 => (ulong)(short)raw,
            2 => (ulong)(int)raw,
            4 => (byte)raw,
            5 => (ushort)raw,
            6 => (uint)raw,
            _ => raw,
        };
        return true;
    }

    /// <summary>Store of 1/2/4/8 bytes. False = trap recorded.</summary>
    private bool StoreSlow(ulong va, int size, ulong value)
    {
        if ((((va + (ulong)size - 1) ^ va) >> 12) != 0)
        {
            // Probe both pages first (without setting A/D: updates must not be speculative) so a fault
            // leaves memory and page tables untouched.
            for (int i = 0; i < size; i++)
            {
                if (!Translate(va + (ulong)i, AccessType.Write, _dataMode, out ulong bytePa, updateAccessedDirty: false)
                    || !PmpCheck(bytePa, 1, AccessType.Write, _dataMode, va + (ulong)i))
                {
                    return false;
                }
            }

            for (int i = 0; i < size; i++)
            {
                if (!StoreSlow(va + (ulong)i, 1, value >> (8 * i)))
                {
                    return false;
                }
            }

            return true;
        }

        if (!Translate(va, AccessType.Write, _dataMode, out ulong pa) || !PmpCheck(pa, size, AccessType.Write, _dataMode, va))
        {
            return false;
        }

        if (PmpCacheable(pa, AccessType.Write, _dataMode) && TryCacheRamPage(_writeTlb, va, pa, out long addend))
        {
            _ram.Tracker.NotifyWrite(pa, (ulong)size); // before any byte of the page changes (copy-on-write, dirty bit)
            byte* p = (byte*)(addend + (long)va);
            switch (size)
            {
                case 1: *p = (byte)value; break;
                case 2: *(ushort*)p = (ushort)value; break;
                case 4: *(uint*)p = (uint)value; break;
                default: *(ulong*)p = value; break;
            }

            return true;
        }

        if (((va & (ulong)(size - 1)) != 0 && !_ram.Contains(pa, (ulong)size)) || !_bus.Write(pa, size, value))
        {
            return AccessFault(AccessType.Write, va);
        }

        _breakQuantum = true; // a device may have raised or lowered an interrupt
        return true;
    }

    /// <summary>Fetches the instruction at pc when the fast path missed. False = trap recorded.</summary>
    private bool FetchSlow(ulong pc, out uint instruction)
    {
        instruction = 0;
        if (!LookupFetchPage(pc, out long addend, out bool cached))
        {
            return false;
        }

        byte* p = (byte*)(addend + (long)pc);
        if (cached)
        {
            _fetchTag = pc >> 12;
            _fetchAddend = addend;
        }

        ushort low = *(ushort*)p;
        if ((pc & 0xFFF) <= 0xFFC)
        {
            // A page PMP splits is never cached: its upper half-word is checked on its own.
            if (!cached && (low & 3) == 3 && !PmpCheck(_ram.Base + (ulong)(p + 2 - _ram.Pointer), 2, AccessType.Fetch, _mode, pc + 2))
            {
                return false;
            }

            instruction = *(uint*)p;
            return true;
        }

        if ((low & 3) != 3)
        {
            instruction = low;
            return true;
        }

        ulong next = pc + 2;
        if (!LookupFetchPage(next, out long nextAddend, out _))
        {
            return false;
        }

        instruction = low | ((uint)*(ushort*)(nextAddend + (long)next) << 16);
        return true;
    }

    /// <summary>
    /// The host addend of the RAM page holding <paramref name="va"/> for a fetch of the half-word there (PMP
    /// checked); <paramref name="cached"/> tells whether the page is in the TLB (PMP permits all of it).
    /// </summary>
    private bool LookupFetchPage(ulong va, out long addend, out bool cached)
    {
        TlbEntry* e = _fetchTlb + (int)((va >> 12) & TlbMask);
        cached = e->Tag == va >> 12;
        if (cached)
        {
            addend = e->Addend;
            return true;
        }

        addend = 0;
        if (!Translate(va, AccessType.Fetch, _mode, out ulong pa) || !PmpCheck(pa, 2, AccessType.Fetch, _mode, va))
        {
            return false;
        }

        if (!_ram.Contains(pa & ~0xFFFUL, 4096))
        {
            return AccessFault(AccessType.Fetch, va);
        }

        cached = PmpCacheable(pa, AccessType.Fetch, _mode);
        if (cached)
        {
            return TryCacheRamPage(_fetchTlb, va, pa, out addend);
        }

        addend = (long)(_ram.Pointer + ((pa & ~0xFFFUL) - _ram.Base)) - (long)(va & ~0xFFFUL);
        return true;
    }

    /// <summary>Translates an aligned atomic access (needs read and write permission). False = trap recorded.</summary>
    private bool TranslateAtomic(ulong va, int size, bool isLoadReserved, out ulong pa)
    {
        pa = 0;
        if ((va & (ulong)(size - 1)) != 0)
        {
            return RaiseException(isLoadReserved ? TrapCause.LoadAddressMisaligned : TrapCause.StoreAddressMisaligned, va);
        }

        // PMP never stores W without R (the combination is reserved), so write permission covers an AMO's read.
        var type = isLoadReserved ? AccessType.Read : AccessType.Write;
        return Translate(va, type, _dataMode, out pa) && PmpCheck(pa, size, type, _dataMode, va);
    }

    private bool PhysicalRead(ulong pa, int size, ulong va, AccessType faultType, out ulong value)
    {
        return _bus.Read(pa, size, out value) || AccessFault(faultType, va);
    }

    private bool PhysicalWrite(ulong pa, int size, ulong value, ulong va)
    {
        if (!_bus.Write(pa, size, value))
        {
            return AccessFault(AccessType.Write, va);
        }

        if (!_ram.Contains(pa, (ulong)size))
        {
            _breakQuantum = true;
        }

        return true;
    }
}
