namespace Backup.Hypervisor.Agent;

/// <summary>
/// guest-exec-status of a process started by guest-exec: whether it exited, its exit code or the signal that ended
/// it, and its captured standard output and error (base64 on the wire, decoded here; truncated by the agent past its
/// own limit).
/// </summary>
public sealed record QgaExecStatus(bool Exited, int? ExitCode, int? Signal, byte[] Output, byte[] Error, bool OutputTruncated, bool ErrorTruncated)
{
    /// <summary>Standard output as UTF-8 text.</summary>
    public string OutputText => System.Text.Encoding.UTF8.GetString(Output);

    /// <summary>Standard error as UTF-8 text.</summary>
    public string ErrorText => System.Text.Encoding.UTF8.GetString(Error);
}
