namespace Backup.Hypervisor.Agent;

/// <summary>
/// A QEMU guest agent command failed: the agent refused it (<see cref="QemuGuestAgentErrorKind.GuestError"/>, with the
/// guest's <see cref="ErrorClass"/> and <see cref="GuestDescription"/>), did not answer in time, or answered garbage.
/// The message names the command.
/// </summary>
public sealed class QemuGuestAgentException : Exception
{
    public QemuGuestAgentException()
    {
    }

    public QemuGuestAgentException(string message)
        : base(message)
    {
    }

    public QemuGuestAgentException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public QemuGuestAgentException(string command, QemuGuestAgentErrorKind kind, string message, Exception? inner = null)
        : base($"qemu-ga '{command}': {message}", inner)
    {
        Command = command;
        Kind = kind;
    }

    /// <summary>The QGA command (e.g. guest-fsfreeze-freeze).</summary>
    public string Command { get; } = string.Empty;

    public QemuGuestAgentErrorKind Kind { get; }

    /// <summary>The error's class as the guest sent it (e.g. GenericError), for <see cref="QemuGuestAgentErrorKind.GuestError"/>.</summary>
    public string? ErrorClass { get; init; }

    /// <summary>The error's desc as the guest sent it, for <see cref="QemuGuestAgentErrorKind.GuestError"/>.</summary>
    public string? GuestDescription { get; init; }
}
