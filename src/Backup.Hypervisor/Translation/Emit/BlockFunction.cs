using Backup.Hypervisor.Cpu;

namespace Backup.Hypervisor.Translation.Emit;

/// <summary>
/// A compiled block. Runs the block's instructions on <paramref name="hart"/> with its register file at
/// <paramref name="registers"/>, stores the next pc in the hart and adds the retired instructions to its instret.
/// A block that loops back to its own start repeats while another iteration fits in <paramref name="budget"/>
/// (the caller guarantees one does). Returns the instructions consumed (n &gt; 0), or -n when the n-th one
/// trapped (the trap is recorded in the hart and its pc stored; the n-1 before it retired). A null hart only
/// forces compilation and returns 0.
/// </summary>
internal unsafe delegate int BlockFunction(Hart? hart, ulong* registers, int budget);
