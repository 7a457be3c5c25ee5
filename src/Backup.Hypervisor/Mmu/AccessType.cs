namespace Backup.Hypervisor.Mmu;

/// <summary>What a memory access is for: selects permissions and the fault cause.</summary>
internal enum AccessType
{
    Read = 0,
    Write = 1,
    Fetch = 2,
}
