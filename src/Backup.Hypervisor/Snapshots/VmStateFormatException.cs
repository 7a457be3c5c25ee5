namespace Backup.Hypervisor.Snapshots;

/// <summary>A state file that cannot be used: wrong magic, unknown version, bad checksum, truncated or inconsistent section.</summary>
public sealed class VmStateFormatException : Exception
{
    public VmStateFormatException()
    {
    }

    public VmStateFormatException(string message)
        : base(message)
    {
    }

    public VmStateFormatException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
