using Backup.Hypervisor.Cpu;

namespace Backup.Hypervisor.Translation.Emit;

/// <summary>
/// A compiled block, bound to its <see cref="TranslatedBlock"/> (the method's hidden first parameter). Runs the block on
/// <paramref name="hart"/> with its register file at <paramref name="registers"/>, stores the next pc in the hart
/// and adds the retired instructions to its instret; a static exit to a compiled block of the same page that fits in
/// the rest of the budget continues there (a tail call), so one call may run many blocks. Loops inside a block
/// repeat, and chains continue, only while the next block fits in <paramref name="budget"/> (the caller
/// guarantees the first one does). Returns the budget left (&gt;= 0), or its complement (~left, &lt; 0) when the
/// last instruction consumed trapped (the trap is recorded in the hart and its pc stored; it did not retire).
/// A null hart only forces compilation and returns 0.
/// </summary>
internal unsafe delegate int BlockFunction(Hart? hart, ulong* registers, int budget);
