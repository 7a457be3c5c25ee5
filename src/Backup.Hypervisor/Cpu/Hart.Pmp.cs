using Backup.Hypervisor.Cpu.Pmp;
using Backup.Hypervisor.Mmu;
using Backup.Hypervisor.Snapshots;

namespace Backup.Hypervisor.Cpu;

/// <summary>
/// The hart's side of physical memory protection (<see cref="PhysicalMemoryProtection"/>): the pmp CSRs, and the
/// checks the memory paths make. PMP never sits on the fast path: a page enters the software TLB only when PMP
/// permits the whole page for that access type and privilege (TLB sets are split by privilege, so an M-mode
/// entry never serves S or U), a page PMP splits takes the checked slow path on every access, and every pmp CSR
/// write that changes a rule flushes the whole TLB.
/// </summary>
public sealed unsafe partial class Hart
{
    private PhysicalMemoryProtection _pmp = null!; // set by the constructor (InitializePmp)

    /// <summary>The PMP entries a hart implements when it implements PMP.</summary>
    public const int PmpEntries = PhysicalMemoryProtection.ImplementedEntries;

    /// <summary>PMP entries this hart implements (0 or <see cref="PmpEntries"/>).</summary>
    public int PmpEntryCount => _pmp.EntryCount;

    /// <summary>The PMP registers as a checkpoint section of their own ("hartN.pmp"), so the hart's section keeps its layout.</summary>
    public IDeviceState PmpState => new PmpStatePart(this);

    private void InitializePmp(int entries) => _pmp = new PhysicalMemoryProtection(entries);

    private bool ReadPmpCsr(int csr, out ulong value) => _pmp.ReadCsr(csr, out value);

    private bool WritePmpCsr(int csr, ulong value)
    {
        if (!_pmp.WriteCsr(csr, value, out bool changed))
        {
            return false;
        }

        if (changed)
        {
            FlushTlbAll(includeIdentity: true);
            _translation?.FlushJumpCache();
        }

        return true;
    }

    /// <summary>PMP check of an explicit access; false records the access fault for <paramref name="type"/> at <paramref name="va"/>.</summary>
    private bool PmpCheck(ulong pa, int size, AccessType type, PrivilegeMode mode, ulong va) =>
        !_pmp.Checks(mode) || _pmp.Permits(pa, (ulong)size, type, mode) || AccessFault(type, va);

    /// <summary>True when the page holding <paramref name="pa"/> may be cached for <paramref name="type"/> in <paramref name="mode"/>.</summary>
    private bool PmpCacheable(ulong pa, AccessType type, PrivilegeMode mode) =>
        !_pmp.Checks(mode) || _pmp.PermitsWholePage(pa, type, mode);

    /// <summary>PMP check of an implicit page-table access (effective privilege S).</summary>
    private bool PmpPermitsTableAccess(ulong pa, AccessType type) =>
        !_pmp.Checks(PrivilegeMode.Supervisor) || _pmp.Permits(pa, 8, type, PrivilegeMode.Supervisor);

    private sealed class PmpStatePart(Hart hart) : IDeviceState
    {
        public string StateName => $"hart{hart.HartId}.pmp";

        public int StateVersion => 1;

        public void SaveState(StateWriter writer)
        {
            ArgumentNullException.ThrowIfNull(writer);
            int n = hart._pmp.EntryCount;
            var cfg = new byte[n];
            var addr = new ulong[n];
            hart._pmp.CopyTo(cfg, addr);
            writer.WriteBytes(cfg);
            writer.WriteU64Array(addr);
        }

        public void RestoreState(StateReader reader, int version)
        {
            ArgumentNullException.ThrowIfNull(reader);
            reader.RequireVersion(version, 1);
            byte[] cfg = reader.ReadBytes();
            if (cfg.Length != hart._pmp.EntryCount)
            {
                throw reader.Fail($"{cfg.Length} PMP entries saved, this hart implements {hart._pmp.EntryCount}");
            }

            var addr = new ulong[cfg.Length];
            reader.ReadU64Array(addr);
            reader.ExpectEnd();
            hart._pmp.Load(cfg, addr);
            hart.FlushTlbAll(includeIdentity: true);
            hart._translation?.FlushJumpCache();
        }
    }
}
