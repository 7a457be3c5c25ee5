namespace Backup.Policies.Model;

/// <summary>How a policy makes the disks of a VM consistent before they are captured.</summary>
public enum ConsistencyMode
{
    /// <summary>
    /// The disks are captured as they are at one instant, as after a power cut: file systems and databases
    /// recover by journal replay on restore. No cooperation from the guest is needed. The default.
    /// </summary>
    Crash,

    /// <summary>
    /// The guest agent is asked to flush and freeze applications and file systems first
    /// (<see cref="Policy.AgentTimeout"/> bounds the wait); the disks are captured while frozen.
    /// </summary>
    Application,
}
