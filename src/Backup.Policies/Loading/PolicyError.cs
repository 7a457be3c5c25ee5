namespace Backup.Policies.Loading;

/// <summary>
/// One thing wrong in a policy file: the file, the 1-based line and column it is at (0 when it concerns the whole
/// file, e.g. it cannot be read) and what is wrong.
/// </summary>
public sealed record PolicyError(string File, int Line, int Column, string Reason)
{
    /// <summary><c>file:line: reason</c>.</summary>
    public override string ToString() => $"{File}:{Line}: {Reason}";
}
