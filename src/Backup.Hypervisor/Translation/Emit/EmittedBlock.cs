namespace Backup.Hypervisor.Translation.Emit;

/// <summary>
/// A block's compiled code, already JIT-compiled: the function (bound to the block it was emitted for) and the
/// virtual addresses its chainable exits lead to, by exit number (all in the block's own page).
/// </summary>
internal sealed record EmittedBlock(BlockFunction Function, ulong[] ExitTargets);
