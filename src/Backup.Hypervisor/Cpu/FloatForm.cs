namespace Backup.Hypervisor.Cpu;

/// <summary>What an F/D instruction is, as far as its encoding alone tells (<see cref="FloatDecoding.Classify"/>).</summary>
internal enum FloatForm : byte
{
    Illegal,
    Load,
    Store,
    MulAdd,
    Arithmetic,
    SquareRoot,
    SignInject,
    MinMax,
    ConvertPrecision,
    Compare,
    ToInteger,
    FromInteger,
    MoveOrClassify,
    MoveFromInteger,
}
