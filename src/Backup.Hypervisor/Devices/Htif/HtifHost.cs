using Backup.Hypervisor.Memory;

namespace Backup.Hypervisor.Devices.Htif;

/// <summary>
/// The host side of the Berkeley Host-Target Interface used by bare-metal test programs (as spike provides):
/// the guest writes a command to the 64-bit <c>tohost</c> word in RAM and the host, polling between quanta,
/// executes it and acknowledges through <c>fromhost</c>. Supported: exit (device 0, payload bit 0 set:
/// code = payload &gt;&gt; 1), the syscall proxy's write (device 0, payload = address of an 8-word request),
/// and console putchar (device 1, command 1).
/// </summary>
public sealed class HtifHost
{
    private const ulong SysWrite = 64;
    private readonly GuestRam _ram;
    private readonly ulong _toHost;
    private readonly ulong? _fromHost;
    private readonly Action<byte> _console;

    public HtifHost(GuestRam ram, ulong toHostAddress, ulong? fromHostAddress, Action<byte> console)
    {
        if (!ram.Contains(toHostAddress, 8))
        {
            throw new ArgumentException($"tohost at 0x{toHostAddress:x} is outside guest RAM");
        }

        _ram = ram;
        _toHost = toHostAddress;
        _fromHost = fromHostAddress is { } f && ram.Contains(f, 8) ? f : null;
        _console = console;
    }

    /// <summary>Set once the guest has requested exit: 0 = pass, otherwise the failing test number or code.</summary>
    public int? ExitCode { get; private set; }

    /// <summary>Processes a pending command, if any. Returns true when the guest asked to exit.</summary>
    public bool Poll()
    {
        ulong command = ReadWord(_toHost);
        if (command == 0)
        {
            return false;
        }

        WriteWord(_toHost, 0);
        ulong device = command >> 56;
        ulong cmd = (command >> 48) & 0xFF;
        ulong payload = command & 0xFFFF_FFFF_FFFF;

        if (device == 0 && cmd == 0)
        {
            if ((payload & 1) != 0)
            {
                ExitCode = (int)Math.Min(payload >> 1, int.MaxValue);
                return true;
            }

            SystemCall(payload);
            Acknowledge(1);
        }
        else if (device == 1 && cmd == 1)
        {
            _console((byte)payload);
            Acknowledge((1UL << 56) | (1UL << 48));
        }

        return false;
    }

    private void SystemCall(ulong requestAddress)
    {
        if (!_ram.TryGetSpan(requestAddress, 64, out _))
        {
            return; // a bad pointer from the guest: ignored, as a real host would fail the call
        }

        ulong which = ReadWord(requestAddress);
        long result = -1;
        if (which == SysWrite)
        {
            ulong buffer = ReadWord(requestAddress + 16);
            ulong length = ReadWord(requestAddress + 24);
            if (length <= int.MaxValue && _ram.TryGetSpan(buffer, (int)length, out var data))
            {
                foreach (byte b in data)
                {
                    _console(b);
                }

                result = (long)length;
            }
        }

        WriteWord(requestAddress, (ulong)result);
    }

    private void Acknowledge(ulong value)
    {
        if (_fromHost is { } f)
        {
            WriteWord(f, value);
        }
    }

    private ulong ReadWord(ulong address)
    {
        _ram.TryGetSpan(address, 8, out var span);
        return BitConverter.ToUInt64(span);
    }

    private void WriteWord(ulong address, ulong value)
    {
        _ram.TryGetWritableSpan(address, 8, out var span);
        BitConverter.TryWriteBytes(span, value);
    }
}
