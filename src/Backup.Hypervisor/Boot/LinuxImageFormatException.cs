namespace Backup.Hypervisor.Boot;

/// <summary>A RISC-V Linux kernel Image whose 64-byte boot header is missing or unusable.</summary>
public sealed class LinuxImageFormatException : FormatException
{
    /// <summary>Creates an exception with a default message.</summary>
    public LinuxImageFormatException()
        : base("Malformed RISC-V Linux Image header")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public LinuxImageFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public LinuxImageFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception for <paramref name="sourceName"/>; the message becomes "sourceName: problem".</summary>
    public LinuxImageFormatException(string sourceName, string problem)
        : base($"{sourceName}: {problem}")
    {
        SourceName = sourceName;
    }

    /// <summary>The file (or description of the buffer) that was being parsed, when known.</summary>
    public string? SourceName { get; }
}
