namespace Backup.Hypervisor.Devices;

/// <summary>
/// The "sifive,test1" finisher (QEMU virt's test device at 0x100000, also driven by Linux's syscon-poweroff and
/// syscon-reboot with offset 0): a write to offset 0 of 0x5555 powers off (pass), 0x7777 reboots, and
/// 0x3333 | (code &lt;&lt; 16) powers off with a failure exit code. Other values, offsets and all reads are ignored
/// (reads return 0). Writes of 2, 4 or 8 bytes are accepted; only the low 32 bits matter.
/// The request is reported synchronously on the VM thread through the callback given to the constructor.
/// </summary>
public sealed class SysconPower : IMmioDevice
{
    /// <summary>QEMU virt's address for the test device.</summary>
    public const ulong DefaultBase = 0x100000;

    /// <summary>Size of the register window.</summary>
    public const ulong DefaultSize = 0x1000;

    private const uint FailValue = 0x3333;
    private const uint PassValue = 0x5555;
    private const uint ResetValue = 0x7777;

    private readonly Action<PowerRequest> _onRequest;

    public SysconPower(Action<PowerRequest> onRequest, ulong baseAddress = DefaultBase, string name = "test")
    {
        ArgumentNullException.ThrowIfNull(onRequest);
        _onRequest = onRequest;
        Base = baseAddress;
        Name = name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public ulong Base { get; }

    /// <inheritdoc />
    public ulong Size => DefaultSize;

    /// <inheritdoc />
    public ulong Read(ulong offset, int size) => 0;

    /// <inheritdoc />
    public void Write(ulong offset, int size, ulong value)
    {
        if (offset != 0 || (size != 2 && size != 4 && size != 8))
        {
            return;
        }

        uint word = size == 2 ? (uint)(value & 0xFFFF) : (uint)value;
        PowerRequest? request = (word & 0xFFFF) switch
        {
            PassValue => PowerRequest.PowerOff,
            ResetValue => PowerRequest.Reboot,
            FailValue => PowerRequest.Fail((int)(word >> 16)),
            _ => null,
        };

        if (request is not null)
        {
            _onRequest(request);
        }
    }
}
