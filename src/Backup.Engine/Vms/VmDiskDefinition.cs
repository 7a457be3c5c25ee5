namespace Backup.Engine.Vms;

/// <summary>One disk of a VM: a raw image file on the appliance, and whether the guest may write it.</summary>
public sealed record VmDiskDefinition
{
    public string Path { get; init; } = string.Empty;

    public bool ReadOnly { get; init; }
}
