namespace Backup.Hypervisor.Translation;

/// <summary>How a hart executes guest code.</summary>
public enum ExecutionMode
{
    /// <summary>Every instruction is decoded and executed by the interpreter loop.</summary>
    Interpreter = 0,

    /// <summary>
    /// Hot blocks are translated to .NET IL and compiled by the JIT; cold code and system instructions still run in
    /// the interpreter. Architectural state, traps, interrupts and checkpoints are identical to the interpreter's.
    /// </summary>
    Translated = 1,
}
