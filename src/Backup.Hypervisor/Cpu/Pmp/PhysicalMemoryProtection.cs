using Backup.Hypervisor.Mmu;

namespace Backup.Hypervisor.Cpu.Pmp;

/// <summary>
/// Physical memory protection of one hart (privileged spec 3.7): 16 entries (pmpcfg0/pmpcfg2 and pmpaddr0-15 on
/// RV64; the CSRs of entries 16-63 read as zero and ignore writes), address matching OFF/TOR/NA4/NAPOT with a
/// 4-byte grain and 54 address bits, R/W/X permissions and the L bit (a locked entry ignores writes to its
/// configuration and address — and, when it is TOR, to its predecessor's address — and binds M-mode too).
/// <para>
/// The lowest-numbered entry matching any byte of an access decides; it must match every byte or the access fails.
/// An access no entry matches succeeds in M-mode and fails in S/U-mode whenever entries are implemented. WARL
/// rules: the reserved R=0/W=1 combination is stored with W cleared, the reserved bits 5-6 read as zero.
/// </para>
/// A hart whose M-mode belongs to the host (host-served SBI) implements no entries: every access succeeds, the
/// CSRs read as zero, and nothing here is on any path.
/// </summary>
internal sealed class PhysicalMemoryProtection
{
    /// <summary>Entries a hart with guest M-mode code implements.</summary>
    public const int ImplementedEntries = 16;

    /// <summary>The CSR address space holds 64 entries.</summary>
    public const int ArchitecturalEntries = 64;

    private const byte R = 1, W = 2, X = 4, L = 0x80;
    private const int AShift = 3;
    private const byte AMask = 3 << AShift;
    private const ulong AddressMask = (1UL << 54) - 1; // pmpaddr holds physical address bits 55:2

    private readonly byte[] _cfg;
    private readonly ulong[] _addr;
    private readonly Rule[] _rules;
    private int _ruleCount;
    private bool _anyLocked;

    /// <param name="entries">0 (no PMP: M-mode is the host's) or <see cref="ImplementedEntries"/>.</param>
    public PhysicalMemoryProtection(int entries)
    {
        if (entries is not (0 or ImplementedEntries))
        {
            throw new ArgumentOutOfRangeException(nameof(entries), entries, $"a hart implements 0 or {ImplementedEntries} PMP entries");
        }

        EntryCount = entries;
        _cfg = new byte[entries];
        _addr = new ulong[entries];
        _rules = new Rule[entries];
    }

    /// <summary>Implemented entries (0 or 16).</summary>
    public int EntryCount { get; }

    /// <summary>True when accesses in <paramref name="mode"/> can ever be refused (M-mode only through locked entries).</summary>
    public bool Checks(PrivilegeMode mode) => EntryCount != 0 && (mode != PrivilegeMode.Machine || _anyLocked);

    /// <summary>Whether an access of <paramref name="size"/> bytes at physical <paramref name="address"/> is permitted.</summary>
    public bool Permits(ulong address, ulong size, AccessType type, PrivilegeMode mode)
    {
        ulong last = address + size - 1;
        for (int i = 0; i < _ruleCount; i++)
        {
            ref readonly Rule rule = ref _rules[i];
            if (last < rule.First || address > rule.Last)
            {
                continue;
            }

            return address >= rule.First && last <= rule.Last && Grants(rule.Cfg, type, mode);
        }

        return mode == PrivilegeMode.Machine || EntryCount == 0;
    }

    /// <summary>
    /// True when every access of <paramref name="type"/> in <paramref name="mode"/> to the 4 KiB page at
    /// <paramref name="page"/> is permitted, so the page may be cached in the TLB. False when some or all of it is
    /// refused or the page straddles an entry boundary: each access then takes the checked slow path.
    /// </summary>
    /// <remarks>
    /// Permitting the whole page as one access means one entry covers all of it (or none touches it, in M-mode), so
    /// every smaller access inside it gets the same answer.
    /// </remarks>
    public bool PermitsWholePage(ulong page, AccessType type, PrivilegeMode mode) => Permits(page & ~0xFFFUL, 4096, type, mode);

    /// <summary>Reads a pmpcfg/pmpaddr CSR (<paramref name="csr"/> in 0x3A0-0x3EF). False: the CSR does not exist (odd pmpcfg on RV64).</summary>
    public bool ReadCsr(int csr, out ulong value)
    {
        value = 0;
        if (csr < 0x3B0)
        {
            int index = csr - 0x3A0;
            if ((index & 1) != 0)
            {
                return false;
            }

            for (int b = 0; b < 8; b++)
            {
                int entry = (index * 4) + b;
                if (entry < EntryCount)
                {
                    value |= (ulong)_cfg[entry] << (8 * b);
                }
            }

            return true;
        }

        int n = csr - 0x3B0;
        if (n < EntryCount)
        {
            value = _addr[n];

            // With a 4-byte grain every bit reads back as written (G = 0).
        }

        return true;
    }

    /// <summary>Writes a pmpcfg/pmpaddr CSR. False: the CSR does not exist. <paramref name="changed"/>: the rules changed.</summary>
    public bool WriteCsr(int csr, ulong value, out bool changed)
    {
        changed = false;
        if (csr < 0x3B0)
        {
            int index = csr - 0x3A0;
            if ((index & 1) != 0)
            {
                return false;
            }

            for (int b = 0; b < 8; b++)
            {
                int entry = (index * 4) + b;
                if (entry >= EntryCount || (_cfg[entry] & L) != 0)
                {
                    continue;
                }

                byte cfg = (byte)((value >> (8 * b)) & 0x9F);
                if ((cfg & (R | W)) == W)
                {
                    cfg &= unchecked((byte)~W); // R=0, W=1 is reserved: store W cleared
                }

                changed |= cfg != _cfg[entry];
                _cfg[entry] = cfg;
            }
        }
        else
        {
            int n = csr - 0x3B0;
            if (n >= EntryCount || (_cfg[n] & L) != 0 || (n + 1 < EntryCount && (_cfg[n + 1] & (L | AMask)) == (L | (1 << AShift))))
            {
                return true; // unimplemented, locked, or the lower bound of a locked TOR entry
            }

            ulong address = value & AddressMask;
            changed = address != _addr[n];
            _addr[n] = address;
        }

        if (changed)
        {
            Rebuild();
        }

        return true;
    }

    /// <summary>The raw configuration bytes and addresses (checkpoints).</summary>
    public void CopyTo(Span<byte> cfg, Span<ulong> addr)
    {
        _cfg.CopyTo(cfg);
        _addr.CopyTo(addr);
    }

    /// <summary>Replaces every entry (checkpoint restore); values are masked as CSR writes would be.</summary>
    public void Load(ReadOnlySpan<byte> cfg, ReadOnlySpan<ulong> addr)
    {
        for (int i = 0; i < EntryCount; i++)
        {
            _cfg[i] = (byte)(cfg[i] & 0x9F);
            _addr[i] = addr[i] & AddressMask;
        }

        Rebuild();
    }

    private static bool Grants(byte cfg, AccessType type, PrivilegeMode mode)
    {
        if (mode == PrivilegeMode.Machine && (cfg & L) == 0)
        {
            return true;
        }

        byte needed = type switch { AccessType.Read => R, AccessType.Write => W, _ => X };
        return (cfg & needed) != 0;
    }

    private void Rebuild()
    {
        _ruleCount = 0;
        _anyLocked = false;
        for (int i = 0; i < EntryCount; i++)
        {
            byte cfg = _cfg[i];
            ulong first, last;
            switch ((cfg & AMask) >> AShift)
            {
                case 1: // TOR: [pmpaddr(i-1), pmpaddr(i)) in 4-byte units
                    first = i == 0 ? 0 : _addr[i - 1] << 2;
                    ulong top = _addr[i] << 2;
                    if (first >= top)
                    {
                        continue; // matches nothing
                    }

                    last = top - 1;
                    break;
                case 2: // NA4
                    first = _addr[i] << 2;
                    last = first + 3;
                    break;
                case 3: // NAPOT: trailing ones t give 2^(t+3) bytes
                {
                    int ones = System.Numerics.BitOperations.TrailingZeroCount(~_addr[i]);
                    first = (_addr[i] & ~((1UL << ones) - 1)) << 2; // ones <= 54: the address has 54 bits
                    last = first + (1UL << (ones + 3)) - 1;
                    break;
                }

                default:
                    continue; // OFF
            }

            _rules[_ruleCount++] = new Rule(first, last, cfg);
            _anyLocked |= (cfg & L) != 0;
        }
    }

    private readonly record struct Rule(ulong First, ulong Last, byte Cfg);
}
