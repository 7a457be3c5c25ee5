namespace Backup.Hypervisor.Boot;

/// <summary>A firmware or payload file that is not a RISC-V ELF or a raw image this machine can load.</summary>
public sealed class FirmwareImageFormatException : FormatException
{
    public FirmwareImageFormatException()
    {
    }

    public FirmwareImageFormatException(string message)
        : base(message)
    {
    }

    public FirmwareImageFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <param name="sourceName">The file.</param>
    /// <param name="problem">What is wrong with it.</param>
    public FirmwareImageFormatException(string sourceName, string problem)
        : base($"'{sourceName}': {problem}")
    {
        SourceName = sourceName;
    }

    /// <summary>The file, when known.</summary>
    public string? SourceName { get; }
}
