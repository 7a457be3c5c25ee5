namespace Backup.Hypervisor.Agent;

/// <summary>guest-info: the agent's version and the commands it supports, with whether each is enabled.</summary>
public sealed record QgaAgentInfo(string Version, IReadOnlyDictionary<string, bool> Commands)
{
    /// <summary>True when the agent has <paramref name="command"/> and it is enabled.</summary>
    public bool Supports(string command) => Commands.TryGetValue(command, out bool enabled) && enabled;
}
