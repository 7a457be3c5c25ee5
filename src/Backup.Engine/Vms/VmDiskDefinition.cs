namespace Backup.Engine.Vms;

/// <summary>One disk of a VM: a raw image file on the appliance, whether the guest may write it and, optionally, its change-tracking granularity.</summary>
public sealed record VmDiskDefinition
{
    public string Path { get; init; } = string.Empty;

    public bool ReadOnly { get; init; }

    /// <summary>
    /// This disk's changed-block tracking granularity in bytes, overriding the VM's <see cref="VmDefinition.CbtGranularity"/>;
    /// null: the VM's. Changing it makes the next backup read the whole disk (the old bitmap's blocks do not map onto the new ones).
    /// </summary>
    public int? CbtGranularity { get; init; }
}
