namespace Backup.Hypervisor.Boot;

/// <summary>
/// An ELF file that cannot be loaded: bad identification, wrong machine or type, truncated tables, segments or
/// sections outside the file, inconsistent sizes. The message names the file and the problem.
/// </summary>
public sealed class ElfFormatException : FormatException
{
    /// <summary>Creates an exception with a default message.</summary>
    public ElfFormatException()
        : base("Malformed ELF file")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public ElfFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public ElfFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception for <paramref name="sourceName"/>; the message becomes "sourceName: problem".</summary>
    public ElfFormatException(string sourceName, string problem)
        : base($"{sourceName}: {problem}")
    {
        SourceName = sourceName;
    }

    /// <summary>The file (or description of the buffer) that was being parsed, when known.</summary>
    public string? SourceName { get; }
}
