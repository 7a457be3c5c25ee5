namespace Backup.Policies.Loading;

/// <summary>
/// A policy file is wrong, so the whole policy set was refused. <see cref="File"/>, <see cref="Line"/>,
/// <see cref="Column"/> and <see cref="Reason"/> describe the first error; <see cref="Errors"/> holds every error found.
/// The message is one <c>file:line: reason</c> line per error.
/// </summary>
public sealed class PolicyException : Exception
{
    /// <summary>Creates an exception for the errors found, first error first; there must be at least one.</summary>
    public PolicyException(IReadOnlyList<PolicyError> errors)
        : base(Compose(errors))
    {
        Errors = errors;
        File = errors[0].File;
        Line = errors[0].Line;
        Column = errors[0].Column;
        Reason = errors[0].Reason;
    }

    /// <summary>Creates an exception for one error.</summary>
    public PolicyException(string file, int line, int column, string reason)
        : this([new PolicyError(file, line, column, reason)])
    {
    }

    public PolicyException() : this("(unknown)", 0, 0, "the policies are invalid")
    {
    }

    public PolicyException(string message) : this("(unknown)", 0, 0, message)
    {
    }

    public PolicyException(string message, Exception innerException) : base(message, innerException)
    {
        Errors = [new PolicyError("(unknown)", 0, 0, message)];
        File = "(unknown)";
        Reason = message;
    }

    /// <summary>The file of the first error.</summary>
    public string File { get; }

    /// <summary>The 1-based line of the first error (0: the whole file).</summary>
    public int Line { get; }

    /// <summary>The 1-based column of the first error (0: the whole file).</summary>
    public int Column { get; }

    /// <summary>What is wrong, without the location.</summary>
    public string Reason { get; }

    /// <summary>Every error found, in file order.</summary>
    public IReadOnlyList<PolicyError> Errors { get; }

    private static string Compose(IReadOnlyList<PolicyError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentOutOfRangeException.ThrowIfZero(errors.Count);
        return string.Join(Environment.NewLine, errors);
    }
}
