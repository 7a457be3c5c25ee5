using System.Diagnostics;
using System.Text;

namespace Backup.TestSupport;

/// <summary>
/// The same stock Debian guest on qemu-system-riscv64 (-M virt, TCG, 256 MiB, one hart) with one virtio-net-device on
/// a <c>-netdev socket</c> (one guest listens on a loopback port, the other connects: QEMU's own point-to-point link),
/// driven at its serial console (stdin/stdout with -nographic). The reference for <see cref="NetworkedGuest"/>.
/// </summary>
public sealed class QemuNetworkedGuest : ConsoleDrivenGuest
{
    private readonly Process _process;
    private readonly StringBuilder _console = new();
    private readonly Lock _lock = new();
    private readonly Task _pump;

    private QemuNetworkedGuest(string name, DebianStockGuest guest, string address, string mac, string netdev)
        : base(name)
    {
        var info = new ProcessStartInfo("qemu-system-riscv64")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in new[]
        {
            "-M", "virt", "-m", "256M", "-smp", "1", "-nographic", "-no-reboot",
            "-kernel", guest.KernelPath, "-initrd", guest.InitrdPath,
            "-append", $"console=ttyS0 {(address == "dhcp" ? "net.dhcp=1" : $"net.ip={address}")} net.shell=1",
            "-netdev", $"{netdev},id=n0", "-device", $"virtio-net-device,netdev=n0,mac={mac}",
        })
        {
            info.ArgumentList.Add(a);
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException("qemu-system-riscv64 did not start");
        _process.ErrorDataReceived += (_, e) => Append(e.Data is null ? string.Empty : e.Data + "\n");
        _process.BeginErrorReadLine();
        _pump = Task.Run(async () =>
        {
            var buffer = new char[4096];
            int n;
            while ((n = await _process.StandardOutput.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                Append(new string(buffer, 0, n));
            }
        });
    }

    /// <inheritdoc />
    public override string ConsoleText
    {
        get
        {
            lock (_lock)
            {
                return _console.ToString();
            }
        }
    }

    /// <summary>Boots a guest whose NIC listens on (<paramref name="listen"/>) or connects to 127.0.0.1:<paramref name="port"/>.</summary>
    public static QemuNetworkedGuest Boot(string name, DebianStockGuest guest, string address, string mac, int port, bool listen)
    {
        var qemu = new QemuNetworkedGuest(name, guest, address, mac, $"socket,{(listen ? "listen" : "connect")}=127.0.0.1:{port}");
        qemu.WaitFor("debian-stock: shell", TimeSpan.FromMinutes(3));
        return qemu;
    }

    /// <summary>
    /// Boots a guest on QEMU's user-mode network (<c>-netdev user</c>, slirp: the guest takes 10.0.2.15 by DHCP) with
    /// host loopback <paramref name="hostPort"/> forwarded to its <paramref name="guestPort"/> (hostfwd).
    /// </summary>
    public static QemuNetworkedGuest BootUserNetwork(string name, DebianStockGuest guest, string mac, int hostPort, int guestPort)
    {
        var qemu = new QemuNetworkedGuest(name, guest, "dhcp", mac, $"user,hostfwd=tcp:127.0.0.1:{hostPort}-:{guestPort}");
        qemu.WaitFor("debian-stock: shell", TimeSpan.FromMinutes(3));
        return qemu;
    }

    public override void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _pump.Wait(TimeSpan.FromSeconds(5));
        _process.Dispose();
    }

    /// <inheritdoc />
    protected override void Type(string text)
    {
        _process.StandardInput.Write(text);
        _process.StandardInput.Flush();
    }

    /// <inheritdoc />
    protected override string? Ended() => _process.HasExited ? $"qemu exited {_process.ExitCode}" : null;

    private void Append(string text)
    {
        lock (_lock)
        {
            _console.Append(text);
        }
    }
}
