using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Backup.Network.Ethernet;

namespace Backup.Network.Tests.Interop;

/// <summary>
/// The host's own Linux kernel as a "guest": a TAP device in a fresh network namespace (entered by one dedicated
/// thread with unshare(CLONE_NEWNET), so the test process and the host's network are untouched), bridged to a switch
/// port. Commands (ip, python3, curl) are started from that thread and so run inside the namespace.
/// </summary>
internal sealed class LinuxTap : IDisposable
{
    private const int CloneNewNet = 0x40000000;
    private const uint TunSetIff = 0x400454ca;
    private readonly BlockingCollection<Action> _work = [];
    private readonly Thread _thread;
    private readonly INetworkLink _link;
    private readonly AutoResetEvent _wake = new(false);
    private int _fd = -1;
    private volatile bool _stopped;

    public LinuxTap(INetworkLink link)
    {
        _link = link;
        _link.AcceptedOffloads = OffloadCapabilities.None; // a plain TAP: finished frames only
        var ready = new TaskCompletionSource();
        _thread = new Thread(() =>
        {
            try
            {
                if (unshare(CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"unshare(CLONE_NEWNET) failed: errno {Marshal.GetLastPInvokeError()}");
                }

                _fd = open("/dev/net/tun"u8.ToArray(), 2);
                var ifr = new byte[40];
                "tap0"u8.CopyTo(ifr);
                ifr[16] = 0x02; // IFF_TAP
                ifr[17] = 0x10; // IFF_NO_PI
                if (_fd < 0 || ioctl(_fd, TunSetIff, ifr) != 0)
                {
                    throw new InvalidOperationException($"cannot create tap0: errno {Marshal.GetLastPInvokeError()}");
                }

                ready.SetResult();
            }
            catch (Exception e)
            {
                ready.SetException(e);
                return;
            }

            foreach (var action in _work.GetConsumingEnumerable())
            {
                action();
            }
        }) { IsBackground = true, Name = "netns" };
        _thread.Start();
        ready.Task.GetAwaiter().GetResult();
        link.SetNotifier(() => _wake.Set());
        new Thread(TapToSwitch) { IsBackground = true }.Start();
        new Thread(SwitchToTap) { IsBackground = true }.Start();
    }

    /// <summary>Runs a command inside the namespace and returns its output; throws when it fails.</summary>
    public string Run(string file, params string[] arguments)
    {
        var p = Start(file, arguments);
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60)) || p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed: {output}");
        }

        return output;
    }

    /// <summary>Starts a command inside the namespace.</summary>
    public Process Start(string file, params string[] arguments)
    {
        var started = new TaskCompletionSource<Process>();
        _work.Add(() =>
        {
            try
            {
                var info = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                info.Environment["PYTHONUNBUFFERED"] = "1";
                started.SetResult(Process.Start(info)!);
            }
            catch (Exception e)
            {
                started.SetException(e);
            }
        });
        return started.Task.GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        _stopped = true;
        _wake.Set();
        _work.CompleteAdding();
        if (_fd >= 0)
        {
            _ = close(_fd);
        }
    }

    private void TapToSwitch()
    {
        var buffer = new byte[65536];
        while (!_stopped)
        {
            nint n = read(_fd, buffer, buffer.Length);
            if (n <= 0)
            {
                return;
            }

            _link.Transmit(buffer.AsSpan(0, (int)n), FrameOffload.None);
        }
    }

    private void SwitchToTap()
    {
        var buffer = new byte[FrameLimits.MaximumSuperFrameLength];
        while (!_stopped)
        {
            _wake.WaitOne(200);
            while (_link.TryReceive(buffer, out int length, out _))
            {
                _ = write(_fd, buffer, length);
            }
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int unshare(int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int open(byte[] path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int ioctl(int fd, uint request, byte[] ifr);

    [DllImport("libc", SetLastError = true)]
    private static extern nint read(int fd, byte[] buffer, nint count);

    [DllImport("libc", SetLastError = true)]
    private static extern nint write(int fd, byte[] buffer, nint count);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);
}
