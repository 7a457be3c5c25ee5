using Backup.Hypervisor.Translation.Emit;

namespace Backup.Hypervisor.Translation.Cache;

/// <summary>
/// What the translated tier knows about the guest code starting at one (physical, virtual) address pair: how long
/// the straight-line block is and, once hot, its compiled form. A block depends on
/// nothing but its code bytes and its virtual address (AUIPC, link registers and branch targets are computed from
/// it); loads and stores read the hart's current TLB sets when the block runs, so privilege and MMU mode changes
/// need no recompilation. Compiled code reads <see cref="Function"/>, <see cref="Length"/> and <see cref="Exits"/>
/// directly (they are fields for that reason).
/// </summary>
internal sealed unsafe class TranslatedBlock(ulong physical, ulong virtualAddress, byte* host, int length)
{
    /// <summary>
    /// Instructions in the block (along the fall-through path, ending at the first jump); 0 when the first instruction
    /// is one the translator leaves to the interpreter. A caller runs the block only with at least this much budget.
    /// </summary>
    internal int Length = length;

    /// <summary>The compiled code (bound to this block), or null while the block is cold, not translatable or invalidated.</summary>
    internal BlockFunction? Function;

    /// <summary>
    /// The blocks this block's static exits lead to, by exit number (see <see cref="Emit.EmittedBlock.ExitTargets"/>):
    /// compiled code jumps straight into a target whose <see cref="Function"/> is set (chaining). Every target starts
    /// in this block's own page, so a write to the page invalidates the block and all its targets together.
    /// </summary>
    internal TranslatedBlock?[] Exits = [];

    /// <summary>Guest-physical address of the first instruction.</summary>
    public ulong Physical { get; } = physical;

    /// <summary>Virtual address the block was found at (and compiled for).</summary>
    public ulong Virtual { get; } = virtualAddress;

    /// <summary>Host address of the first instruction's bytes: the identity a fetch-TLB hit is checked against.</summary>
    public byte* Host { get; } = host;

    /// <summary>True once the block was handed to the background compiler (it is not queued twice).</summary>
    public bool Queued { get; set; }

    /// <summary>False once the block's page was written: it must never run again.</summary>
    public bool Valid { get; set; } = true;
}
