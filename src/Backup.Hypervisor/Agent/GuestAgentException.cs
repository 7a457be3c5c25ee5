namespace Backup.Hypervisor.Agent;

/// <summary>The guest agent answered with an error, or did not answer in time.</summary>
public sealed class GuestAgentException : Exception
{
    public GuestAgentException()
    {
    }

    public GuestAgentException(string message)
        : base(message)
    {
    }

    public GuestAgentException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>True when the agent did not answer within the timeout (as opposed to answering "err").</summary>
    public bool TimedOut { get; init; }
}
