namespace Backup.Hypervisor.Tests.Support;

/// <summary>Where the guest's init writes its disk-test block (docs/guest.md): sector 1, starting with the magic.</summary>
public static class GuestDiskLayout
{
    public const int BlockOffset = 512;
    public const string Magic = "guest-block-v1";
}
