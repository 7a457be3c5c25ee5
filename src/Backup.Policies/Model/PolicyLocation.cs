namespace Backup.Policies.Model;

/// <summary>Where a policy was defined: the file and the 1-based line and column of its <c>name</c> value.</summary>
public sealed record PolicyLocation(string File, int Line, int Column)
{
    /// <summary><c>file:line:column</c>, the form editors and compilers use.</summary>
    public override string ToString() => $"{File}:{Line}:{Column}";
}
