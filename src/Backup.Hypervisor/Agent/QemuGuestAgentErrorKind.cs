namespace Backup.Hypervisor.Agent;

/// <summary>Why a QEMU guest agent command failed.</summary>
public enum QemuGuestAgentErrorKind
{
    /// <summary>The agent answered with <c>{"error":{"class","desc"}}</c>.</summary>
    GuestError,

    /// <summary>No answer within the request's timeout (a hung or killed agent).</summary>
    Timeout,

    /// <summary>The answer was not JSON, or not a JSON object with "return" or "error".</summary>
    Garbage,

    /// <summary>The answer grew past <see cref="QemuGuestAgentClient.MaxResponseBytes"/> before its end.</summary>
    Oversize,

    /// <summary>The answer was well-formed JSON but not the shape the command returns.</summary>
    UnexpectedAnswer,
}
