using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Snapshots;

namespace Backup.Hypervisor.Sbi;

/// <summary>
/// The Supervisor Binary Interface served by the host (SBI spec v1.0), replacing an M-mode firmware image:
/// BASE, TIME, IPI, RFENCE, HSM and SRST, plus the legacy console putchar/getchar, set_timer and shutdown calls.
/// Arguments arrive in a0-a5, the function id in a6 and the extension id in a7; results go to a0 (error) and a1 (value).
/// </summary>
public sealed class SbiServer : ISupervisorCallHandler, IDeviceState
{
    public const long ExtensionBase = 0x10;
    public const long ExtensionTime = 0x54494D45;
    public const long ExtensionIpi = 0x735049;
    public const long ExtensionRfence = 0x52464E43;
    public const long ExtensionHsm = 0x48534D;
    public const long ExtensionSrst = 0x53525354;
    public const long LegacySetTimer = 0x00, LegacyPutChar = 0x01, LegacyGetChar = 0x02, LegacyShutdown = 0x08;

    /// <summary>The legacy extensions occupy EIDs 0x00-0x0F (SBI spec, chapter "Legacy Extensions").</summary>
    public const long LegacyLast = 0x0F;

    /// <summary>Implementation id reported by sbi_get_impl_id (not a registered id: this appliance's own).</summary>
    public const long ImplementationId = 0x4241;

    private readonly Action<byte> _consoleOutput;
    private readonly Func<int> _consoleInput;
    private readonly Action<SystemResetKind> _reset;
    private Hart[] _harts = [];

    /// <param name="consoleOutput">Receives bytes written with the legacy putchar call.</param>
    /// <param name="consoleInput">Returns the next console input byte, or -1 when none is waiting.</param>
    /// <param name="reset">Called when the guest asks for power-off or reboot.</param>
    public SbiServer(Action<byte> consoleOutput, Func<int> consoleInput, Action<SystemResetKind> reset)
    {
        _consoleOutput = consoleOutput;
        _consoleInput = consoleInput;
        _reset = reset;
    }

    /// <summary>True once the guest has read the console through SBI (it uses hvc0, not the UART).</summary>
    public bool ConsoleInputUsed { get; private set; }

    /// <summary>Gives the server the machine's harts (needed for IPI, RFENCE and HSM).</summary>
    public void AttachHarts(IEnumerable<Hart> harts) => _harts = [.. harts];

    /// <inheritdoc />
    public void HandleSupervisorCall(Hart hart)
    {
        ArgumentNullException.ThrowIfNull(hart);
        long extension = (long)hart.GetRegister(17);
        long function = (long)hart.GetRegister(16);
        ulong a0 = hart.GetRegister(10), a1 = hart.GetRegister(11), a2 = hart.GetRegister(12);

        switch (extension)
        {
            case LegacySetTimer:
                hart.SetTimerCompare(a0);
                hart.SetRegister(10, 0);
                return;
            case LegacyPutChar:
                _consoleOutput((byte)a0);
                hart.SetRegister(10, 0);
                return;
            case LegacyGetChar:
                ConsoleInputUsed = true;
                hart.SetRegister(10, (ulong)(long)_consoleInput());
                return;
            case LegacyShutdown:
                _reset(SystemResetKind.Shutdown);
                hart.State = HartState.Stopped;
                return;
            case <= LegacyLast and >= 0:
                // The other legacy extensions (clear_ipi, send_ipi, remote fences, reserved 0x09-0x0F) are not
                // served. Legacy calls return in a0 only and must preserve every other register, a1 included.
                hart.SetRegister(10, unchecked((ulong)SbiError.NotSupported));
                return;
        }

        (long error, ulong value) = extension switch
        {
            ExtensionBase => Base(function, a0),
            ExtensionTime when function == 0 => SetTimer(hart, a0),
            ExtensionIpi when function == 0 => SendIpi(a0, a1),
            ExtensionRfence => RemoteFence(function, a0, a1),
            ExtensionHsm => HartStateManagement(hart, function, a0, a1, a2),
            ExtensionSrst when function == 0 => SystemReset(hart, (uint)a0, (uint)a1),
            _ => (SbiError.NotSupported, 0UL),
        };

        hart.SetRegister(10, (ulong)error);
        hart.SetRegister(11, value);
    }

    private static (long, ulong) Base(long function, ulong argument) => function switch
    {
        0 => (SbiError.Success, 1UL << 24), // spec version 1.0
        1 => (SbiError.Success, ImplementationId),
        2 => (SbiError.Success, 1),
        3 => (SbiError.Success, IsSupported((long)argument) ? 1UL : 0UL),
        4 or 5 or 6 => (SbiError.Success, 0), // mvendorid, marchid, mimpid
        _ => (SbiError.NotSupported, 0),
    };

    private static bool IsSupported(long extension) => extension is ExtensionBase or ExtensionTime or ExtensionIpi
        or ExtensionRfence or ExtensionHsm or ExtensionSrst or LegacySetTimer or LegacyPutChar or LegacyGetChar or LegacyShutdown;

    private static (long, ulong) SetTimer(Hart hart, ulong value)
    {
        hart.SetTimerCompare(value);
        return (SbiError.Success, 0);
    }

    /// <summary>
    /// Harts named by an SBI hart mask (hart_mask_base -1: every hart); null when the base or any hart the mask
    /// names does not exist (the caller answers SBI_ERR_INVALID_PARAM). A base near 2^64 never wraps to a low id.
    /// </summary>
    private List<Hart>? Targets(ulong mask, ulong maskBase)
    {
        if (maskBase == ulong.MaxValue)
        {
            return [.. _harts];
        }

        ulong count = (ulong)_harts.Length;
        if (maskBase >= count)
        {
            return null;
        }

        var list = new List<Hart>();
        for (int bit = 0; bit < 64; bit++)
        {
            if (((mask >> bit) & 1) == 0)
            {
                continue;
            }

            if ((ulong)bit >= count - maskBase)
            {
                return null;
            }

            list.Add(_harts[maskBase + (ulong)bit]);
        }

        return list;
    }

    private (long, ulong) SendIpi(ulong mask, ulong maskBase)
    {
        var targets = Targets(mask, maskBase);
        if (targets is null)
        {
            return (SbiError.InvalidParam, 0);
        }

        foreach (var target in targets)
        {
            target.SetInterruptPending(InterruptBits.SSIP, true);
            if (target.State == HartState.WaitingForInterrupt)
            {
                target.State = HartState.Running;
            }
        }

        return (SbiError.Success, 0);
    }

    private (long, ulong) RemoteFence(long function, ulong mask, ulong maskBase)
    {
        if (function > 2)
        {
            return (SbiError.NotSupported, 0); // hypervisor fences: no H extension
        }

        var targets = Targets(mask, maskBase);
        if (targets is null)
        {
            return (SbiError.InvalidParam, 0);
        }

        if (function != 0)
        {
            // remote_sfence_vma(_asid): ASIDLEN is 0, so a full flush is always correct.
            foreach (var target in targets)
            {
                target.FlushTlb();
            }
        }

        return (SbiError.Success, 0);
    }

    private (long, ulong) HartStateManagement(Hart caller, long function, ulong hartId, ulong startAddress, ulong opaque)
    {
        switch (function)
        {
            case 0: // hart_start
            {
                if (hartId >= (ulong)_harts.Length)
                {
                    return (SbiError.InvalidParam, 0);
                }

                var target = _harts[hartId];
                if (target.State != HartState.Stopped)
                {
                    return (SbiError.AlreadyAvailable, 0);
                }

                target.Start(startAddress, PrivilegeMode.Supervisor, hartId, opaque);
                return (SbiError.Success, 0);
            }

            case 1: // hart_stop
                caller.State = HartState.Stopped;
                return (SbiError.Success, 0);
            case 2: // hart_get_status
                if (hartId >= (ulong)_harts.Length)
                {
                    return (SbiError.InvalidParam, 0);
                }

                return (SbiError.Success, _harts[hartId].State == HartState.Stopped ? 1UL : 0UL);
            default:
                return (SbiError.NotSupported, 0);
        }
    }

    /// <summary>
    /// sbi_system_reset: both arguments are 32 bits wide. Types 0 (shutdown), 1 (cold reboot) and 2 (warm reboot)
    /// and reasons 0 (none) and 1 (system failure) are served; reserved, SBI-implementation-specific and vendor
    /// values are not implemented here, so they get SBI_ERR_INVALID_PARAM and the call returns.
    /// </summary>
    private (long, ulong) SystemReset(Hart caller, uint type, uint reason)
    {
        if (type > 2 || reason > 1)
        {
            return (SbiError.InvalidParam, 0);
        }

        _reset(type == 0 ? SystemResetKind.Shutdown : SystemResetKind.Reboot);

        caller.State = HartState.Stopped;
        return (SbiError.Success, 0);
    }

    /// <inheritdoc />
    public string StateName => "sbi";

    /// <inheritdoc />
    public int StateVersion => 1;

    /// <inheritdoc />
    public void SaveState(StateWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteBool(ConsoleInputUsed);
    }

    /// <inheritdoc />
    public void RestoreState(StateReader reader, int version)
    {
        ArgumentNullException.ThrowIfNull(reader);
        reader.RequireVersion(version, 1);

        ConsoleInputUsed = reader.ReadBool();
        reader.ExpectEnd();
    }
}
