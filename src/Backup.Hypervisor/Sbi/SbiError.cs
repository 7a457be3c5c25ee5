namespace Backup.Hypervisor.Sbi;

/// <summary>SBI standard error codes (SBI spec v1.0, table 1).</summary>
internal static class SbiError
{
    public const long Success = 0;
    public const long Failed = -1;
    public const long NotSupported = -2;
    public const long InvalidParam = -3;
    public const long AlreadyAvailable = -6;
}
